package discover

// SetEtcCeph points the /etc/ceph source at dir for a test and returns the
// function that restores it.
func SetEtcCeph(dir string) func() {
	old := etcCeph
	etcCeph = dir
	return func() { etcCeph = old }
}
