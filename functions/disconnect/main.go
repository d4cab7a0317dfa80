// Command disconnect is the Lambda function behind the WebSocket API's $disconnect route.
package main

import "github.com/chatroom/chat/internal/app"

func main() { app.Start("disconnect") }
