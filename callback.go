package digelao

import (
	"context"
	"net/http"
	"net/url"
)

// CallbackConfig is the account's push setting (platform 9.1).
type CallbackConfig struct {
	// Open switches the call-record push (6.6.1) on or off.
	Open bool
	// CallbackURL receives a call record about a minute after each hang-up. The platform requires
	// it even when Open is false. Build one with a token using CallbackURL.
	CallbackURL string
	// TaskCallbackURL, when set, receives the result of each asynchronous import (5.7.15).
	TaskCallbackURL string
}

var setCallbackEndpoint = endpoint{method: http.MethodPost, path: "/api/setCallback"}

// SetCallback sets where the platform pushes call records and import results.
//
// Platform API 9.1 设置回调地址 (POST /api/setCallback): open_callback (1/0), callback_url and,
// when set, task_callback_url. Both URLs must be absolute http or https URLs; anything else is
// refused before sending. The page documents POST but shows a GET example; POST is used.
func (c *Client) SetCallback(ctx context.Context, cfg CallbackConfig) error {
	if err := checkPushURL("callback_url", cfg.CallbackURL); err != nil {
		return err
	}
	p := NewParams().Set("open_callback", cfg.Open).Set("callback_url", cfg.CallbackURL)
	if cfg.TaskCallbackURL != "" {
		if err := checkPushURL("task_callback_url", cfg.TaskCallbackURL); err != nil {
			return err
		}
		p.Set("task_callback_url", cfg.TaskCallbackURL)
	}
	_, err := c.call(ctx, setCallbackEndpoint, p)
	return err
}

// checkPushURL accepts any absolute http or https URL, as the platform does.
func checkPushURL(field, raw string) error {
	if raw == "" {
		return invalid(field, "is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid(field, "is not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(field, "must be an absolute http:// or https:// URL")
	}
	return nil
}

// CallbackURL returns base with token added as its "token" query parameter: a push URL for
// SetCallback that a PushHandler with the same Token accepts. base must be an absolute http or
// https URL, and token not empty; use a long random one, such as crypto/rand.Text() returns.
// Other query parameters of base are kept.
func CallbackURL(base, token string) (string, error) {
	if err := checkPushURL("base", base); err != nil {
		return "", err
	}
	if token == "" {
		return "", invalid("token", "is required")
	}
	u, _ := url.Parse(base) // checked above
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
