// Command rooms is the Lambda function behind the HTTP API's rooms routes.
package main

import "github.com/chatroom/chat/internal/app"

func main() { app.Start("rooms") }
