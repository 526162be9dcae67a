//go:build !linux

package main

import (
	"context"
	"errors"
)

func becomeSubreaper() (func(), error) {
	return nil, errors.New("needs Linux (a child subreaper and /proc)")
}

func (b *cephBench) peakOfTree(context.Context, []string) (treePeak, error) {
	return treePeak{}, errors.New("needs Linux")
}
