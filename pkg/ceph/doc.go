// Package ceph implements StorageService, and the worker's WorkerService,
// over librados and librbd (go-ceph). It runs only inside the Ceph worker,
// otterscale-ceph (see package worker), which is the only program that
// imports it: builds without cgo or without the pacific tag, which go-ceph
// needs for Ceph 16.2's headers, have nothing of it.
package ceph
