package digelaotest

import (
	"errors"
	"strings"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/flex"
)

// tenant is one account and everything it owns.
type tenant struct {
	acct      Account
	key       string // the only valid api_key; a newer login replaces it
	keyUntil  time.Time
	callback  digelao.CallbackRequest
	seats     []*seat
	tasks     []*task
	records   []*record
	daily     map[string]int // new tasks per China-time day
	blacklist []*blackEntry
	customers []*customer
	callTimes *array
}

// keyLifetime is how long an api_key is valid (REFERENCE §3).
const keyLifetime = 2 * time.Hour

func (s *Server) addTenant(a Account) error {
	n := int64(len(s.tenants))
	def := func(field *string, v string) {
		if *field == "" {
			*field = v
		}
	}
	def(&a.UserSN, "SYSUSER|"+md5Hex("user/"+a.Username))
	def(&a.TeamName, "人工智能客户组")
	def(&a.TeamSN, "SON|"+md5Hex("team/" + a.Username)[:10])
	def(&a.Job, "管理员")
	def(&a.CallerGroup, "912143")
	def(&a.Expires, "2099-12-31")
	def(&a.SeatSN, "SYSUSER|"+md5Hex("seat/"+a.Username))
	def(&a.SeatName, a.Username+"001")
	if a.ID == 0 {
		a.ID = 3635 + n
	}
	if a.AICount <= 0 {
		a.AICount = 5
	}
	if s.byUserSN[a.UserSN] != nil {
		return check(false, "two accounts with user_sn %q", a.UserSN)
	}
	t := &tenant{acct: a, daily: map[string]int{}, callTimes: defaultCallTimes()}
	s.ids.seat++
	t.seats = append(t.seats, &seat{
		id: s.ids.seat, sn: a.SeatSN, name: a.SeatName, contact: "AI坐席", job: "坐席", roleID: 2,
		organizationID: 216, maxCalls: a.AICount, projectSN: s.templates[0].SN,
	})
	s.tenants = append(s.tenants, t)
	s.byUserSN[a.UserSN] = t
	return nil
}

// Login is one login attempt.
type Login struct {
	Time     time.Time // the fake's clock
	From     string    // "1" (api_access_id, 1.2) or "2" (username and password, 1.3) as received
	Username string    // the account's username; "" when none matched
	APIKey   string    // the key issued; "" when refused
	Code     int       // the reply's code
}

// Logins returns every login attempt, oldest first.
func (s *Server) Logins() []Login {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Login(nil), s.logins...)
}

// login serves /api/login: 1.2 (from=1: api_access_id, timestamp within five minutes, sign =
// md5(id+secret+timestamp)) and 1.3 (from=2: username, password and the url check). 1.2 documents
// no url, and a client that sends none is accepted, so 1.2 skips the url check [inferred].
func (s *Server) login(c *call) (any, error) {
	from := c.p.str("from")
	rec := Login{Time: c.now, From: from}
	defer func() { s.logins = append(s.logins, rec) }()
	var t *tenant
	var err error
	switch from {
	case "1":
		t, err = s.accessLogin(c)
	case "2":
		if err = s.checkURL(c); err == nil {
			t, err = s.passwordLogin(c)
		}
	default:
		err = fail(digelao.CodeClientType)
	}
	if t != nil {
		rec.Username = t.acct.Username
	}
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			rec.Code = ae.code
		}
		return nil, err
	}
	t.key = s.apiKey()
	t.keyUntil = c.now.Add(keyLifetime)
	rec.APIKey = t.key
	a := t.acct
	return obj("code", 0, "data", obj(
		"id", a.ID, "user_sn", a.UserSN, "user_name", a.Username, "team_name", a.TeamName,
		"expired", a.Expires, "ai_count", a.AICount, "caller_group", a.CallerGroup, "api_key", t.key,
		"parent_sn", nil, "status", nil, "api_key_expire", t.keyUntil.Unix(), "team_sn", a.TeamSN, "job", a.Job,
	), "msg", "login success"), nil
}

// loginWindow is how far login 1.2's timestamp may be from the fake's clock.
const loginWindow = 5 * time.Minute

func (s *Server) accessLogin(c *call) (*tenant, error) {
	id, sign, ts := c.p.str("api_access_id"), c.p.str("sign"), c.p.str("timestamp")
	for _, t := range s.tenants {
		if id == "" || t.acct.AccessID != id {
			continue
		}
		at, err := time.ParseInLocation(time.DateTime, ts, flex.China)
		// A stale timestamp's code is not documented; 20004 is the fake's choice [inferred].
		if err != nil || at.Sub(c.now).Abs() > loginWindow || sign != md5Hex(id+t.acct.AccessSecret+ts) {
			return t, fail(digelao.CodeInvalidCredential)
		}
		return t, nil
	}
	return nil, fail(digelao.CodeInvalidCredential)
}

func (s *Server) passwordLogin(c *call) (*tenant, error) {
	user, pass := c.p.str("username"), c.p.str("password")
	for _, t := range s.tenants {
		if user != "" && t.acct.Username == user {
			if pass != t.acct.Password {
				return t, fail(digelao.CodeInvalidCredential)
			}
			return t, nil
		}
	}
	return nil, fail(digelao.CodeInvalidCredential)
}

const keyChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// apiKey returns 8 random alphanumerics from the seeded generator.
func (s *Server) apiKey() string {
	b := make([]byte, 8)
	for i := range b {
		b[i] = keyChars[s.rng.IntN(len(keyChars))]
	}
	return string(b)
}

// authenticate checks user_sn and api_key: a missing or replaced key is 20005, an expired one 20006.
func (s *Server) authenticate(c *call) error {
	t := s.byUserSN[c.p.str("user_sn")]
	key := c.p.str("api_key")
	if t == nil || key == "" || key != t.key {
		return fail(digelao.CodeAPIKeyInvalid)
	}
	if !c.now.Before(t.keyUntil) {
		return fail(digelao.CodeAPIKeyExpired)
	}
	c.t = t
	return nil
}

// Callback returns the default account's push setting (9.1).
func (s *Server) Callback() digelao.CallbackRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[0].callback
}

// setCallback serves 9.1: open_callback 1/0 and callback_url are required, task_callback_url is
// optional (left as it was when absent); both URLs must start with http:// or https://. The code
// for a refused value is not documented; the fake answers 20002 [inferred].
func (s *Server) setCallback(c *call) (any, error) {
	open := c.p.str("open_callback")
	cb := c.p.str("callback_url")
	if (open != "0" && open != "1") || !httpURL(cb) {
		return nil, fail(digelao.CodeBadData)
	}
	cfg := c.t.callback
	if v, ok := c.p.get("task_callback_url"); ok {
		tu := scalarText(v)
		if tu != "" && !httpURL(tu) {
			return nil, fail(digelao.CodeBadData)
		}
		cfg.TaskCallbackURL = tu
	}
	cfg.Open, cfg.CallbackURL = open == "1", cb
	c.t.callback = cfg
	return obj("code", 0, "msg", "SUCCESS"), nil
}

// httpURL is 9.1's rule: the address starts with http:// or https://.
func httpURL(u string) bool {
	return (strings.HasPrefix(u, "http://") && len(u) > 7) || (strings.HasPrefix(u, "https://") && len(u) > 8)
}
