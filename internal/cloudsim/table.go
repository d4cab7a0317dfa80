package cloudsim

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// WriteTable prints the results as a Markdown table.
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintln(w, "| connections | members | messages | p50 | p99 | max | lost | repeated | out of order | posts | throttled | invocations | GB-s | RCU | WCU | $ per million | floor $ | ratio | host CPU |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		ratio := 0.0
		if r.Floor > 0 {
			ratio = r.Cost / r.Floor
		}
		fmt.Fprintf(w, "| %d | %d | %d | %s | %s | %s | %d | %d | %d | %.0f | %.1f | %.1f | %.4f | %.1f | %.1f | %.2f | %.0f | %.3f | %.0f%% |\n",
			r.Connections, r.Members, r.Messages, ms(r.P50), ms(r.P99), ms(r.Max), r.Lost, r.Duplicated, r.Reordered,
			r.Posts, r.Throttled, r.Invocations, r.GBSeconds, r.RCU, r.WCU, r.Cost, r.Floor, ratio, 100*r.HostBusy)
	}
	for _, r := range results {
		names := slices.Sorted(maps.Keys(r.Functions))
		var parts []string
		for _, name := range names {
			f := r.Functions[name]
			parts = append(parts, fmt.Sprintf("%s %.1f × %s (max %s)", name, f.Invocations, ms(f.Mean), ms(f.Max)))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "\nroom of %d, invocations a message: %s", r.Connections, strings.Join(parts, ", "))
		}
	}
	for _, r := range results {
		var parts []string
		for _, p := range r.CPU {
			parts = append(parts, fmt.Sprintf("%s %.0f ms", p.Name, p.MS))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "\nroom of %d, CPU a message (ms of one core): %s", r.Connections, strings.Join(parts, ", "))
		}
	}
	for _, r := range results {
		if r.Replaced > 0 {
			fmt.Fprintf(w, "\nroom of %d: %d function instances stopped on their own and were replaced (the functions' log says why)", r.Connections, r.Replaced)
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "\nroom of %d: %s", r.Connections, p)
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
