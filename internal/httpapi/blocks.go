package httpapi

import (
	"context"
	"net/http"
)

// The blocking routes live with the rooms routes: the add they guard is
// theirs, and one function keeps the check and the list in step.

func (rt *roomRoutes) block(ctx context.Context, r *Request) (Response, error) {
	var body struct {
		Username string `json:"username"`
	}
	if err := r.decode(&body); err != nil {
		return Response{}, err
	}
	if err := rt.rooms.Block(ctx, r.Caller.Username, body.Username); err != nil {
		return Response{}, err
	}
	return Response{Status: http.StatusNoContent}, nil
}

func (rt *roomRoutes) unblock(ctx context.Context, r *Request) (Response, error) {
	if err := rt.rooms.Unblock(ctx, r.Caller.Username, r.Params["username"]); err != nil {
		return Response{}, err
	}
	return Response{Status: http.StatusNoContent}, nil
}

func (rt *roomRoutes) blocks(ctx context.Context, r *Request) (Response, error) {
	list, err := rt.rooms.Blocks(ctx, r.Caller.Username)
	if err != nil {
		return Response{}, err
	}
	if list == nil {
		list = []string{}
	}
	return Response{Status: http.StatusOK, Body: map[string][]string{"usernames": list}}, nil
}
