// Command join_room is the Lambda function behind the WebSocket API's join_room route.
package main

import "github.com/chatroom/chat/internal/app"

func main() { app.Start("join_room") }
