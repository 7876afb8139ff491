package stream

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/h2o-kv/h2o/binding"
)

// Memory is what the process holds: resident memory and, with a GPU, the
// device memory in use.
type Memory struct {
	RSS       int64 // bytes (VmRSS), 0 if unknown
	VRAMUsed  int64 // bytes used on the GPUs (total - free: the whole device, other processes included)
	VRAMTotal int64 // 0 without a GPU
}

// MemorySampler returns a function reading the process's memory; gpu adds
// the GPU devices' usage (binding.Devices free/total).
func MemorySampler(gpu bool) func() Memory {
	return func() Memory {
		var m Memory
		m.RSS, _ = RSS()
		if gpu {
			m.VRAMUsed, m.VRAMTotal = VRAM()
		}
		return m
	}
}

// RSS is this process's resident set size, from /proc/self/status.
func RSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseVmRSS(f)
}

// parseVmRSS finds "VmRSS:   1234 kB" in a /proc status file.
func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS: unexpected %q", rest)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// VRAM sums used and total memory over the GPU devices.
func VRAM() (used, total int64) {
	for _, d := range binding.Devices() {
		if !d.IsGPU() {
			continue
		}
		used += int64(d.TotalBytes - min(d.FreeBytes, d.TotalBytes))
		total += int64(d.TotalBytes)
	}
	return used, total
}

// bytesString formats a byte count in binary units ("-" for 0).
func bytesString(n int64) string {
	const unit = 1024
	if n <= 0 {
		return "-"
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// cpuTime is the process's user + system CPU time so far (0 if unknown).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
