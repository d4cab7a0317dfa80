// Command leave_room is the Lambda function behind the WebSocket API's leave_room route.
package main

import "github.com/chatroom/chat/internal/app"

func main() { app.Start("leave_room") }
