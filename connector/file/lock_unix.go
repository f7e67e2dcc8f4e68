//go:build unix

package file

import (
	"os"
	"syscall"
)

// locks says that tryLock locks: a sink holds its temporary file locked
// while it writes, so that the leftover of a killed sink can be told from
// the file of a live one.
const locks = true

// tryLock takes an exclusive lock on f without waiting, and reports
// whether it got it. The lock goes with the process, however it ends.
func tryLock(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
