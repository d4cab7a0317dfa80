// Package cost turns what one chat message makes the system do (store
// requests and capacity, pushes, Lambda time) into dollars per million
// messages at AWS's on-demand prices, and sets that against the floor: what
// API Gateway alone charges to carry a message into a room and out to
// everyone in it, which no design on these services can avoid.
//
// Prices are US East (N. Virginia), on-demand, without free tier, from
// these pages, checked on 2026-11-22 (PricesListedOn) against published
// copies of them:
//
//	https://aws.amazon.com/api-gateway/pricing/  WebSocket APIs: $1.00 per million messages (first billion a month), messages metered in 32 KB increments; $0.25 per million connection minutes
//	https://aws.amazon.com/lambda/pricing/       Arm: $0.0000133334 per GB-second; $0.20 per million requests
//	https://aws.amazon.com/dynamodb/pricing/on-demand/  $0.625 per million write request units, $0.125 per million read request units (since the price cut of 1 November 2024)
//
// On-demand DynamoDB bills request units the way provisioned tables count
// capacity units: a write 1 per started KB (2 in a transaction), a strongly
// consistent read 1 per started 4 KB (half eventually consistent, 2 in a
// transaction), so the RCU and WCU a request reports are its request units.
package cost

import (
	"errors"
	"fmt"
	"time"
)

// PricesListedOn is when the prices below were checked.
const PricesListedOn = "2026-11-22"

// Dollars, US East (N. Virginia), on-demand.
const (
	// WebSocketMessagePerMillion is API Gateway's price for a million
	// WebSocket messages, sent or received, each metered in 32 KB
	// increments (the first billion a month; $0.80 beyond).
	WebSocketMessagePerMillion = 1.00
	// ConnectionMinutesPerMillion is API Gateway's price for a million
	// minutes of open WebSocket connections.
	ConnectionMinutesPerMillion = 0.25
	// LambdaRequestsPerMillion is Lambda's price for a million invocations.
	LambdaRequestsPerMillion = 0.20
	// LambdaArmGBSecond is Lambda's price for a GB-second on arm64 (the
	// first 7.5 billion GB-seconds a month), what template.yaml deploys.
	LambdaArmGBSecond = 0.0000133334
	// WriteRequestUnitsPerMillion and ReadRequestUnitsPerMillion are
	// DynamoDB on-demand's prices for a million request units.
	WriteRequestUnitsPerMillion = 0.625
	ReadRequestUnitsPerMillion  = 0.125
)

// PerMessage is what one chat message into a room costs in billed units,
// averaged over many messages.
type PerMessage struct {
	// RoomSize is the number of connections joined to the room, each of
	// which gets the message, the sender's included.
	RoomSize int
	// IncomingMessageUnits is the sender's message to API Gateway in 32 KB
	// increments: 1 for a chat message.
	IncomingMessageUnits float64
	// OutgoingMessageUnits is the pushes in 32 KB increments: RoomSize for
	// a chat message when every post goes through.
	OutgoingMessageUnits float64
	// ReadRequestUnits and WriteRequestUnits are DynamoDB's units.
	ReadRequestUnits, WriteRequestUnits float64
	// LambdaInvocations counts functions run: 1 (send_message).
	LambdaInvocations float64
	// LambdaDuration is the billed time of those invocations together.
	LambdaDuration time.Duration
	// LambdaMemoryMB is the functions' MemorySize in template.yaml.
	LambdaMemoryMB int
}

// Validate reports every value that cannot be.
func (p PerMessage) Validate() error {
	var errs []error
	if p.RoomSize < 1 {
		errs = append(errs, fmt.Errorf("room size %d: at least the sender is in the room", p.RoomSize))
	}
	for name, v := range map[string]float64{"incoming message units": p.IncomingMessageUnits, "outgoing message units": p.OutgoingMessageUnits,
		"read request units": p.ReadRequestUnits, "write request units": p.WriteRequestUnits, "Lambda invocations": p.LambdaInvocations} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: negative", name, v))
		}
	}
	if p.LambdaDuration < 0 || p.LambdaMemoryMB < 0 {
		errs = append(errs, errors.New("negative Lambda duration or memory"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cost: %w", err)
	}
	return nil
}

// PerMillion is the cost of a million messages, in dollars, by service.
type PerMillion struct {
	APIGateway float64 `json:"api_gateway"`
	Lambda     float64 `json:"lambda"`
	DynamoDB   float64 `json:"dynamodb"`
	Total      float64 `json:"total"`
	// Floor is FloorPerMillion of the room size; Ratio is Total / Floor.
	Floor float64 `json:"floor"`
	Ratio float64 `json:"ratio"`
}

// Of prices a million messages like p.
func Of(p PerMessage) (PerMillion, error) {
	if err := p.Validate(); err != nil {
		return PerMillion{}, err
	}
	var c PerMillion
	c.APIGateway = (p.IncomingMessageUnits + p.OutgoingMessageUnits) * WebSocketMessagePerMillion
	gbSeconds := p.LambdaDuration.Seconds() * float64(p.LambdaMemoryMB) / 1024
	c.Lambda = p.LambdaInvocations*LambdaRequestsPerMillion + 1e6*gbSeconds*LambdaArmGBSecond
	c.DynamoDB = p.ReadRequestUnits*ReadRequestUnitsPerMillion + p.WriteRequestUnits*WriteRequestUnitsPerMillion
	c.Total = c.APIGateway + c.Lambda + c.DynamoDB
	c.Floor = FloorPerMillion(p.RoomSize)
	c.Ratio = c.Total / c.Floor
	return c, nil
}

// FloorPerMillion is what API Gateway charges for a million messages into
// a room of roomSize connections with nothing else counted: each is one
// message in and one out to every connection, the sender's included.
func FloorPerMillion(roomSize int) float64 {
	return float64(1+roomSize) * WebSocketMessagePerMillion
}

// ConnectionMinutesCost is API Gateway's charge, in dollars, for keeping
// connections open for minutes in total, apart from any message.
func ConnectionMinutesCost(minutes float64) float64 {
	return minutes / 1e6 * ConnectionMinutesPerMillion
}
