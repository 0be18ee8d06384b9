package digelao

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Option configures a Client. Options validate their arguments: New reports the first bad one.
type Option func(*settings) error

// settings is what the options build; New turns it into a Client.
type settings struct {
	httpClient *http.Client
	transport  http.RoundTripper
	timeout    time.Duration
	idle       time.Duration
	logger     *slog.Logger
	userAgent  string
	maxBody    int64
	creds      credentials
	store      TokenStore
	loginZone  *time.Location
	retry      retryPolicy
	// importStatePath is 5.7.3's path, which the documentation does not give.
	importStatePath string
}

const (
	// DefaultTimeout bounds each attempt of a request when WithTimeout is not given.
	DefaultTimeout = 30 * time.Second
	// DefaultIdleTimeout bounds a download's silence when WithIdleTimeout is not given.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultUserAgent is sent when WithUserAgent is not given.
	DefaultUserAgent = "digelao-go/" + Version
	// Version is the SDK version.
	Version = "0.1.0"
	// defaultMaxBody bounds a buffered (non-download) reply.
	defaultMaxBody = 64 << 20
)

func defaultSettings() settings {
	return settings{
		timeout:   DefaultTimeout,
		idle:      DefaultIdleTimeout,
		logger:    slog.New(slog.DiscardHandler),
		userAgent: DefaultUserAgent,
		maxBody:   defaultMaxBody,
		loginZone: chinaTime,
		retry:     defaultRetry,
	}
}

// WithHTTPClient makes the client send requests through a copy of hc; hc itself is never changed.
// A Timeout set on hc is kept and bounds every request, downloads included; prefer WithTimeout,
// which bounds each attempt and, for downloads, only the wait for the reply's headers.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) error {
		if hc == nil {
			return invalid("WithHTTPClient", "nil *http.Client")
		}
		s.httpClient = hc
		return nil
	}
}

// WithTransport sets the http.RoundTripper requests go through (for example httpmock's, or one
// with a proxy or custom TLS). It takes precedence over the transport of WithHTTPClient.
func WithTransport(rt http.RoundTripper) Option {
	return func(s *settings) error {
		if rt == nil {
			return invalid("WithTransport", "nil http.RoundTripper")
		}
		s.transport = rt
		return nil
	}
}

// WithTimeout bounds each attempt of a request: connecting, sending, and reading the reply — for a
// download, until the file starts (an error page is read whole within it); WithIdleTimeout and the
// context bound the rest. Default 30s; it must be positive: there is no "no timeout".
func WithTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return invalid("WithTimeout", "must be positive, got %s", d)
		}
		s.timeout = d
		return nil
	}
}

// WithIdleTimeout fails a download that sends no byte for d once the file has started, however
// long the whole download takes. Default 30s; it must be positive.
func WithIdleTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return invalid("WithIdleTimeout", "must be positive, got %s", d)
		}
		s.idle = d
		return nil
	}
}

// WithLogger sends the client's debug and warning logs to l. Logs name the method, path, status,
// attempt and timing; they never hold parameters, bodies, api_key, passwords or signatures.
// Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		if l == nil {
			return invalid("WithLogger", "nil *slog.Logger")
		}
		s.logger = l
		return nil
	}
}

// WithUserAgent sets the User-Agent header. It must be a valid header value: not empty, no
// control characters (such as a line break), no leading or trailing blank.
func WithUserAgent(ua string) Option {
	return func(s *settings) error {
		if strings.TrimSpace(ua) == "" {
			return invalid("WithUserAgent", "empty user agent")
		}
		if ua != strings.TrimSpace(ua) || strings.ContainsFunc(ua, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return invalid("WithUserAgent", "%q is not a valid header value", ua)
		}
		s.userAgent = ua
		return nil
	}
}

// WithMaxResponseBytes bounds a buffered reply (every call but downloads). Default 64 MiB.
func WithMaxResponseBytes(n int64) Option {
	return func(s *settings) error {
		if n <= 0 {
			return invalid("WithMaxResponseBytes", "must be positive, got %d", n)
		}
		s.maxBody = n
		return nil
	}
}

// WithImportStatePath sets the path of 5.7.3 异步建任务后获取结果, which no copy of the
// documentation gives, for Tasks.ImportState: ask the vendor for the deployment's. Without it
// ImportState fails before sending; Tasks.ImportInfo (5.7.4) answers the same question.
func WithImportStatePath(path string) Option {
	return func(s *settings) error {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?# ") {
			return invalid("WithImportStatePath", "must be a path such as /api/…, got %q", path)
		}
		s.importStatePath = path
		return nil
	}
}

var errTwoCredentials = errors.New("only one of WithAPIKey, WithAccessKey and WithPassword may be given")

func (s *settings) setCreds(c credentials) error {
	if s.creds != nil {
		return &ValidationError{Field: "credentials", Reason: errTwoCredentials.Error()}
	}
	s.creds = c
	return nil
}
