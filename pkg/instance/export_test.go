package instance

// SetWatchList makes s's watches list by streaming (a watch that sends the
// current state first, then a bookmark) or not, whatever client-go's
// WatchListClient feature gate says.
func SetWatchList(s *Service, on bool) { s.watchList = &on }
