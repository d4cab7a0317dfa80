// Command send_message is the Lambda function behind the WebSocket API's send_message route.
package main

import "github.com/chatroom/chat/internal/app"

func main() { app.Start("send_message") }
