package storage

import "time"

// SetLockSettle sets how long a lock on an object store settles before it
// is read back, for the duration of a test.
func SetLockSettle(d time.Duration) (restore func()) {
	old := lockSettle
	lockSettle = d
	return func() { lockSettle = old }
}
