package costmodel

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/chatroom/chat/internal/cost"
)

// WriteTable prints the results per message, the cost per million
// messages against the floor, and each room's requests by operation.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "room\tbeside\trequests\tRCU\tWCU\tposts\thandler ms\tAPI GW $\tLambda $\tDynamoDB $\ttotal $/M\tfloor $/M\tratio\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%.2f\t%.2f\t%.2f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f\t\n",
			r.RoomSize, r.OtherConnections, r.StoreRequests, r.ReadCapacityUnits, r.WriteCapacityUnits, r.Posts,
			float64(r.HandlerTime)/float64(time.Millisecond), r.Cost.APIGateway, r.Cost.Lambda, r.Cost.DynamoDB, r.Cost.Total, r.Cost.Floor, r.Cost.Ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		fmt.Fprintf(w, "\nroom of %d beside %d other connections, per message:\n", r.RoomSize, r.OtherConnections)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "operation\tcalls\tRCU\tWCU\tmessage units\terrors\t")
		for _, op := range r.Operations {
			fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", op.Operation, op.Calls, op.ReadCapacityUnits, op.WriteCapacityUnits, op.MessageUnits, op.Errors)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\nPer million messages at AWS on-demand prices, us-east-1, checked %s; the floor is API Gateway's charge for 1 message in and one out per connection.\n"+
		"handler ms is measured here (DynamoDB Local, loopback posts), an estimate of the send_message Lambda's billed time.\n", cost.PricesListedOn)
	return err
}
