package cloudsim

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// hostCPU is the machine's CPU time so far, from the first line of
// /proc/stat, in clock ticks: all of it, and the part spent idle or
// waiting on I/O.
type hostCPU struct{ total, idle uint64 }

// readHostCPU samples /proc/stat; ok is false where there is none.
//
// In the cloud each instance has its own share of a core; here every
// instance, the gateway, DynamoDB Local and the client sockets share
// this machine's cores. How busy the machine was while the messages went
// out says which one the latencies measure: a machine near 100% is
// queueing work the cloud would run side by side.
func readHostCPU() (hostCPU, bool) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}, false
	}
	c, err := parseHostCPU(raw)
	return c, err == nil
}

func parseHostCPU(raw []byte) (hostCPU, error) {
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	// cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 6 || fields[0] != "cpu" {
		return hostCPU{}, fmt.Errorf("cloudsim: /proc/stat starts %q, not the cpu line", strings.Join(fields, " "))
	}
	var c hostCPU
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return hostCPU{}, fmt.Errorf("cloudsim: /proc/stat field %d: %w", i+1, err)
		}
		c.total += v
		if i == 3 || i == 4 { // idle, iowait
			c.idle += v
		}
	}
	return c, nil
}

// busySince is the share of the machine's CPU time that was busy between
// the two samples, 0 to 1.
func (c hostCPU) busySince(before hostCPU) float64 {
	total := c.total - before.total
	if total == 0 {
		return 0
	}
	return 1 - float64(c.idle-before.idle)/float64(total)
}
