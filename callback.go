package digelao

import (
	"context"
	"net/http"
	"net/url"
)

// CallbackRequest is the account's push setting (platform 9.1).
type CallbackRequest struct {
	// Open switches the call-record push (6.6.1) on or off.
	Open bool
	// CallbackURL receives a call record about a minute after each hang-up. The platform requires
	// it even when Open is false.
	CallbackURL string
	// TaskCallbackURL, when set, receives the result of each asynchronous import (5.7.15).
	TaskCallbackURL string
	// Token, when set, is added to both URLs as their "token" query parameter: the PushHandler
	// serving them, given the same Token, refuses pushes without it. Use a long random one, such
	// as crypto/rand.Text returns.
	Token Secret
}

var setCallbackEndpoint = endpoint{method: http.MethodPost, path: "/api/setCallback"}

// SetCallback sets where the platform pushes call records and import results.
//
// Platform API 9.1 设置回调地址 (POST /api/setCallback): open_callback (1/0), callback_url and,
// when set, task_callback_url. Both URLs must be absolute http or https URLs without a token
// parameter of their own when req.Token is set; anything else is refused before sending. The page
// documents POST but shows a GET example; POST is used.
func (c *Client) SetCallback(ctx context.Context, req *CallbackRequest) error {
	if req == nil {
		return invalid("CallbackRequest", "is nil")
	}
	push, err := pushURL("CallbackURL", req.CallbackURL, req.Token)
	if err != nil {
		return err
	}
	p := NewParams().Set("open_callback", req.Open).Set("callback_url", push)
	if req.TaskCallbackURL != "" {
		task, err := pushURL("TaskCallbackURL", req.TaskCallbackURL, req.Token)
		if err != nil {
			return err
		}
		p.Set("task_callback_url", task)
	}
	_, err = c.call(ctx, setCallbackEndpoint, p, req.Token)
	return err
}

// pushURL checks a push URL — any absolute http or https URL, as the platform takes — and adds
// token to it as its "token" query parameter, when set.
func pushURL(field, raw string, token Secret) (string, error) {
	if raw == "" {
		return "", invalid(field, "is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", invalid(field, "is not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", invalid(field, "must be an absolute http:// or https:// URL")
	}
	if token.IsZero() {
		return raw, nil
	}
	q := u.Query()
	if q.Has("token") {
		return "", invalid(field, "carries a token parameter already; set it only through Token")
	}
	q.Set("token", token.Value())
	u.RawQuery = q.Encode()
	return u.String(), nil
}
