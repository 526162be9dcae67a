package cephenv

import (
	"context"
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

var monV2 = regexp.MustCompile(`v2:([0-9.]+:[0-9]+)`)

// MonAddr is the monitor's address as Rook and ceph-csi write monitors:
// host:port without a protocol. Ceph takes such an address on a port other
// than 6789 for msgr v2, so the cluster's v2 address is the one given.
func (c *Cluster) MonAddr() (string, error) {
	m := monV2.FindStringSubmatch(c.MonHost)
	if m == nil {
		return "", fmt.Errorf("no msgr v2 address in %q", c.MonHost)
	}
	return m[1], nil
}

// WriteRook writes into namespace ns (which must exist) the objects Rook
// keeps for its cluster, pointing at this one: the Secret rook-ceph-mon
// (fsid and the admin key) and the ConfigMap rook-ceph-mon-endpoints (the
// monitor), so that the plugin finds this Ceph as it would Rook's.
func (c *Cluster) WriteRook(ctx context.Context, core corev1client.CoreV1Interface, ns string) error {
	addr, err := c.MonAddr()
	if err != nil {
		return err
	}
	if _, err := core.Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "rook-ceph-mon"},
		StringData: map[string]string{"fsid": c.FSID, "ceph-username": "client.admin", "ceph-secret": c.AdminKey},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err = core.ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "rook-ceph-mon-endpoints"},
		Data:       map[string]string{"data": "a=" + addr, "maxMonId": "0"},
	}, metav1.CreateOptions{})
	return err
}
