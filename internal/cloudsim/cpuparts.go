package cloudsim

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Where the machine's CPU goes while a room's messages go out: each
// function's processes, the RIEs around them, DynamoDB Local, this process
// (the gateway, its management API and the tally), the client sockets'
// process, and the rest of the machine. Only the functions' part is what
// Lambda would run and bill; the others run elsewhere in the cloud, and
// here take their turns on the same two cores (hostcpu.go says how busy
// those were). Read from /proc/<pid>/stat, whose times are in USER_HZ
// ticks, 100 a second on Linux whatever the kernel's own tick.
const userHZ = 100

// Parts of the machine that are not functions, by the names the table
// prints.
const (
	partRIEs     = "RIEs"
	partDynamoDB = "DynamoDB Local"
	partGateway  = "gateway"
	partClients  = "client sockets"
	partRest     = "rest of the machine"
)

// cpuSample is the CPU time so far of each part's processes, in ticks,
// and the machine's.
type cpuSample struct {
	parts map[string]map[int]uint64
	host  hostCPU
	ok    bool
}

// processGroups names each part's processes as they are now.
type processGroups func() map[string][]int

// sampleCPU reads the processes of each part and the machine.
func sampleCPU(groups processGroups) cpuSample {
	host, ok := readHostCPU()
	s := cpuSample{parts: map[string]map[int]uint64{}, host: host, ok: ok}
	for part, pids := range groups() {
		s.parts[part] = map[int]uint64{}
		for _, pid := range pids {
			if t, ok := processTicks(pid); ok {
				s.parts[part][pid] = t
			}
		}
	}
	return s
}

// processTicks is the user and system time of pid and its threads.
func processTicks(pid int) (uint64, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	t, err := parseProcessTicks(string(raw))
	return t, err == nil
}

func parseProcessTicks(stat string) (uint64, error) {
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields that follow start after the last ")".
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("cloudsim: no command name in %q", stat)
	}
	fields := strings.Fields(stat[end+1:])
	// state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime stime: utime and stime are the 12th and 13th.
	if len(fields) < 13 {
		return 0, fmt.Errorf("cloudsim: %d fields after the command name", len(fields))
	}
	var total uint64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cloudsim: process time %q: %w", f, err)
		}
		total += v
	}
	return total, nil
}

// CPUPart is one part's CPU time per message, in milliseconds of one core.
type CPUPart struct {
	Name string  `json:"name"`
	MS   float64 `json:"ms"`
}

// cpuPerMessage is each part's CPU time between two samples divided by
// the messages, the largest first, with what the machine spent besides
// them as partRest. Each process counts from its own first sample, or
// from 0 if it started in between (an instance replaced); one that ended
// in between is missing from the after sample, and what it used goes to
// partRest.
func cpuPerMessage(before, after cpuSample, messages int) []CPUPart {
	if !before.ok || !after.ok || messages <= 0 {
		return nil
	}
	toMS := func(ticks uint64) float64 { return float64(ticks) * 1000 / userHZ / float64(messages) }
	var parts []CPUPart
	var counted uint64
	for name, pids := range after.parts {
		var used uint64
		for pid, t := range pids {
			used += t - min(t, before.parts[name][pid])
		}
		counted += used
		parts = append(parts, CPUPart{Name: name, MS: toMS(used)})
	}
	// /proc/stat counts in the same USER_HZ ticks, summed over the cores.
	busy := (after.host.total - after.host.idle) - (before.host.total - before.host.idle)
	parts = append(parts, CPUPart{Name: partRest, MS: toMS(busy - min(busy, counted))})
	slices.SortFunc(parts, func(a, b CPUPart) int {
		if a.MS != b.MS {
			if a.MS > b.MS {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return parts
}
