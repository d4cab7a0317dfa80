// Command connect is the Lambda function behind the WebSocket API's $connect route.
package main

import "github.com/chatroom/chat/internal/app"

func main() { app.Start("connect") }
