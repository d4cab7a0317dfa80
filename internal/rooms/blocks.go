package rooms

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// MaxBlocks is how many people one person may block: far more than anyone
// needs, and it bounds both the storage a person can take and the answer
// of GET /me/blocks (about 35 KB).
const MaxBlocks = 1000

// CodeTooManyBlocks answers a block past MaxBlocks. It is a 400, not a
// 429: waiting does not help, unblocking someone does.
const CodeTooManyBlocks chat.Code = "too_many_blocks"

// ErrTooManyBlocks is the answer to a block past MaxBlocks.
var ErrTooManyBlocks = &chat.Error{Code: CodeTooManyBlocks, Message: fmt.Sprintf("you can block at most %d people; unblock someone first", MaxBlocks)}

// Block makes actor unaddable by username: from then on username cannot
// add actor to a room. Blocking someone already blocked changes nothing.
func (s *Service) Block(ctx context.Context, actor, username string) error {
	u, err := blockTarget(username)
	if err != nil {
		return err
	}
	if u == actor {
		return &chat.Error{Code: chat.CodeInvalidUsername, Message: "you cannot block yourself", Usernames: []string{u}}
	}
	found, err := s.store.ExistingUsers(ctx, []string{u})
	if err != nil {
		return fmt.Errorf("rooms: look up %s: %w", u, err)
	}
	if !found[u] {
		return &chat.Error{Code: chat.CodeUserNotFound, Message: "no such user: " + u, Usernames: []string{u}}
	}
	err = s.store.Block(ctx, actor, u, MaxBlocks)
	if errors.Is(err, store.ErrLimit) {
		return ErrTooManyBlocks
	}
	if err != nil {
		return fmt.Errorf("rooms: %s blocks %s: %w", actor, u, err)
	}
	return nil
}

// Unblock lifts actor's block of username. Lifting a block that is not
// there (someone never blocked, or with no account) changes nothing and
// succeeds, like any repeated delete.
func (s *Service) Unblock(ctx context.Context, actor, username string) error {
	u, err := blockTarget(username)
	if err != nil {
		return err
	}
	if err := s.store.Unblock(ctx, actor, u); err != nil {
		return fmt.Errorf("rooms: %s unblocks %s: %w", actor, u, err)
	}
	return nil
}

// Blocks lists whom actor blocked, by username.
func (s *Service) Blocks(ctx context.Context, actor string) ([]string, error) {
	list, err := s.store.Blocks(ctx, actor)
	if err != nil {
		return nil, fmt.Errorf("rooms: blocks of %s: %w", actor, err)
	}
	return list, nil
}

func blockTarget(raw string) (string, error) {
	if raw == "" {
		return "", &chat.Error{Code: chat.CodeInvalidUsername, Message: "say whom to block: a username is missing"}
	}
	u, err := chat.NormalizeUsername(raw)
	if err != nil {
		return "", &chat.Error{Code: chat.CodeInvalidUsername, Message: fmt.Sprintf("%q is not a valid username", raw), Usernames: []string{raw}}
	}
	return u, nil
}

// blockersAmong asks which of the people found blocked actor. Nobody found
// means nobody to ask about.
func (s *Service) blockersAmong(ctx context.Context, actor string, found map[string]bool) (map[string]bool, error) {
	if len(found) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(found))
	for u, ok := range found {
		if ok {
			names = append(names, u)
		}
	}
	slices.Sort(names)
	blockers, err := s.store.BlockersAmong(ctx, actor, names)
	if err != nil {
		return nil, fmt.Errorf("rooms: look up who blocked %s: %w", actor, err)
	}
	return blockers, nil
}

// orMember lets a block keep people out of rooms without changing the rooms
// they are in: a member who blocked actor is still there to be named again
// (already_member) or promoted. Leaving is how they get out.
func orMember(r *chat.Room, exists chat.UserExists) chat.UserExists {
	return func(u string) bool {
		if _, ok := r.Members[u]; ok {
			return true
		}
		return exists(u)
	}
}
