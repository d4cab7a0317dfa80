// Command rooms is the Lambda function behind the HTTP API's rooms routes.
package main

import "github.com/chatroom/chat/internal/app"

func main() {
	app.Start(func(a *app.App) (any, error) {
		h, err := a.RoomsAPI()
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
