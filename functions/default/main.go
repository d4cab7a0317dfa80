// Command default is the Lambda function behind the WebSocket API's $default route.
package main

import "github.com/chatroom/chat/internal/app"

func main() { app.Start("default") }
