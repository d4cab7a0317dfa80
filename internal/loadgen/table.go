package loadgen

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints the results as a table.
func WriteTable(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "room\tphase\tsent\tacked\tstored\tdeliveries\tdeliveries/s\tp50 ms\tp99 ms\tmax ms\tlost\tdup\treordered\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t\n",
			r.RoomSize, r.Phase, r.Sent, r.Acknowledged, r.Stored, r.Deliveries, r.DeliveriesPerSec,
			r.P50ms, r.P99ms, r.MaxMs, r.Lost, r.Duplicated, r.Reordered)
	}
	tw.Flush()
}
