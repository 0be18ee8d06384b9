package digelaotest

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// The default account every Server accepts, and the sub-account and template its tasks use.
const (
	Username     = "demo"
	Password     = "demo-password"
	AccessID     = "5f0e3c9a4b7d46e1a2c8b0d9e7f61a3c"
	AccessSecret = "c41d8f2e9a0b7c63e5f4a1d2b8c9e07f" //nolint:gosec // the fake's published test secret
	UserSN       = "SYSUSER|8e2f4a61c0b9d37e5a1f6c2b9d0e4a73"
	SeatSN       = "SYSUSER|1b7d3e9f5a2c4e6b8d0f1a3c5e7b9d2f" // the AI sub-account (2.1.1) that dials
	SeatName     = "demo001"
	TemplateSN   = "projects|4a92c1e8f07b3d65a9e2c4b1d8f3e6a0" // the default 话术 template
	TemplateName = "示例回访话术"
)

// Account is a main account the fake accepts: both login variants, and the fields its login
// reply carries. Empty fields get defaults derived from Username.
type Account struct {
	Username     string
	Password     string
	AccessID     string // api_access_id, for login 1.2
	AccessSecret string // api_access_secret, for login 1.2
	UserSN       string // "SYSUSER|<32 hex>"
	ID           int64
	TeamName     string
	TeamSN       string
	Job          string
	CallerGroup  string
	Expires      string // the account's own expiry date, "Y-m-d"
	AICount      int    // ai_count, AI calls at once: how many numbers one task dials at once
	SeatSN       string // user_sn of the account's AI sub-account
	SeatName     string
}

// Template is a 话术 (script) template. Columns are its import columns as 5.11 lists them; a
// leading "*" marks a required column, and the first column naming 电话 or 手机 holds the number.
type Template struct {
	SN      string // "projects|<32 hex>" (the platform also uses "project|")
	Name    string // project_caption
	Company string // project_name
	Columns []string
}

// Option configures a Server. New reports an invalid one; NewServer panics on it.
type Option func(*config) error

type config struct {
	now        func() time.Time
	perMinute  time.Duration
	manual     bool
	pushDelay  time.Duration
	pushTries  int
	pushGap    time.Duration
	accounts   []Account
	templates  []Template
	seed       uint64
	hc         *http.Client
	log        *slog.Logger
	urlCheck   bool
	outcome    func(Call) Outcome
	listener   net.Listener
	importPath string
}

func defaultConfig() config {
	return config{
		now:       time.Now,
		perMinute: 50 * time.Millisecond,
		pushDelay: time.Minute,
		pushTries: 3,
		pushGap:   time.Minute,
		seed:      1,
		log:       slog.New(slog.DiscardHandler),
		urlCheck:  true,
		accounts: []Account{{
			Username: Username, Password: Password, AccessID: AccessID, AccessSecret: AccessSecret,
			UserSN: UserSN, ID: 3635, TeamName: "人工智能客户组", TeamSN: "SON|8156510022", Job: "管理员",
			CallerGroup: "912143", Expires: "2099-12-31", AICount: 5, SeatSN: SeatSN, SeatName: SeatName,
		}},
		templates: []Template{
			{SN: TemplateSN, Name: TemplateName, Company: "示例科技", Columns: []string{"姓名", "*电话", "地址", "公司名称", "备注"}},
			{SN: "project|9ac4e1b27d5f3a8c6e0b4d2f1a9c7e35", Name: "催缴提醒话术", Company: "示例科技", Columns: []string{"*姓名", "*电话", "欠费金额", "备注"}},
		},
	}
}

// check returns nil when ok, else an error for an invalid option.
func check(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("digelaotest: "+format, args...)
}

// WithClock sets what the fake reads as now: login timestamps and api_key expiry are checked
// against it, and simulated timelines start from it. now is called from many goroutines. The pace
// of the simulation is WithTimeScale's, not the clock's. Default time.Now. See Clock.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if err := check(now != nil, "WithClock: nil func"); err != nil {
			return err
		}
		c.now = now
		return nil
	}
}

// WithTimeScale sets how much real time one simulated minute takes. Default 50ms: a call of two
// simulated minutes is over in 100ms, and its push arrives 50ms later.
func WithTimeScale(perMinute time.Duration) Option {
	return func(c *config) error {
		if err := check(perMinute > 0, "WithTimeScale: must be positive, got %s", perMinute); err != nil {
			return err
		}
		c.perMinute = perMinute
		return nil
	}
}

// WithManualTime stops the simulation from running by itself: imports, calls and pushes happen
// only inside Flush, in simulated-time order. With a fixed clock and seed, runs are identical.
func WithManualTime() Option { return func(c *config) error { c.manual = true; return nil } }

// WithPushDelay sets the simulated time between a call's hang-up and its push. Default one
// minute, as 6.6.1 states.
func WithPushDelay(d time.Duration) Option {
	return func(c *config) error {
		if err := check(d >= 0, "WithPushDelay: negative delay %s", d); err != nil {
			return err
		}
		c.pushDelay = d
		return nil
	}
}

// WithPushRetry sets how many times a push is tried in all before it is given up, and the
// simulated time between tries. Default 3 tries a simulated minute apart: 6.6.1's "会尝试三次回调
// 直到接收到SUCCESS" read as three attempts in all; the interval is not documented.
func WithPushRetry(tries int, interval time.Duration) Option {
	return func(c *config) error {
		if err := check(tries >= 1 && interval >= 0, "WithPushRetry: need tries >= 1 and interval >= 0"); err != nil {
			return err
		}
		c.pushTries, c.pushGap = tries, interval
		return nil
	}
}

// WithAccount adds an account the fake accepts, next to the default one. Each account has its
// own api_key, callback setting, tasks, records and lists.
func WithAccount(a Account) Option {
	return func(c *config) error {
		if err := check(a.Username != "" && a.Password != "", "WithAccount: Username and Password are required"); err != nil {
			return err
		}
		for _, b := range c.accounts {
			if b.Username == a.Username {
				return check(false, "WithAccount: duplicate username %q", a.Username)
			}
		}
		c.accounts = append(c.accounts, a)
		return nil
	}
}

// WithTemplate adds a 话术 template next to the defaults (TemplateSN and one more).
func WithTemplate(t Template) Option {
	return func(c *config) error {
		if err := check(t.SN != "" && t.Name != "" && len(t.Columns) > 0, "WithTemplate: SN, Name and Columns are required"); err != nil {
			return err
		}
		c.templates = append(c.templates, t)
		return nil
	}
}

// WithSeed sets the seed of every generated value: api_keys, sns, and call outcomes. Default 1.
func WithSeed(seed uint64) Option { return func(c *config) error { c.seed = seed; return nil } }

// WithHTTPClient sets the client pushes are sent with. Default: a client of the Server's own
// with a 10s timeout, whose idle connections Close closes.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if err := check(hc != nil, "WithHTTPClient: nil client"); err != nil {
			return err
		}
		c.hc = hc
		return nil
	}
}

// WithLogger sends a debug line per request and per push to l. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if err := check(l != nil, "WithLogger: nil logger"); err != nil {
			return err
		}
		c.log = l
		return nil
	}
}

// WithURLCheck switches the anti-hijack "url" check (REFERENCE §1.3) on or off. Default on; some
// deployments do not enforce it, which off imitates.
func WithURLCheck(on bool) Option { return func(c *config) error { c.urlCheck = on; return nil } }

// WithOutcomes decides how each simulated call ends, instead of the seeded default: about two
// calls in three connect, with intent grades A–E (F for calls not connected); a person classifies
// half the connected calls (ManualGrade), mostly as the AI graded them; connected calls graded A
// or B pop up on an agent's screen (ScreenPop 1, or 2 one time in four). f runs with the Server's
// lock held: it must not call the Server's methods.
func WithOutcomes(f func(Call) Outcome) Option {
	return func(c *config) error {
		if err := check(f != nil, "WithOutcomes: nil func"); err != nil {
			return err
		}
		c.outcome = f
		return nil
	}
}

// WithListener makes the Server serve on l (for example a fixed port for a mock command) instead
// of a new loopback port. Close closes l.
func WithListener(l net.Listener) Option {
	return func(c *config) error {
		if err := check(l != nil, "WithListener: nil listener"); err != nil {
			return err
		}
		c.listener = l
		return nil
	}
}

// WithImportResultPath serves 5.7.3 异步建任务后获取结果 at path. The documentation names no URL
// for it, so it is served only where a test says; its reply is the documented
// {"code":200,"msg":"请求成功","data":{"status":…,"desc":…,"import_percent":"…%"}}.
func WithImportResultPath(path string) Option {
	return func(c *config) error {
		if err := check(len(path) > 1 && path[0] == '/', "WithImportResultPath: path must start with /"); err != nil {
			return err
		}
		c.importPath = path
		return nil
	}
}

// Clock is a clock for WithClock that stands still until moved. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Call describes a call the simulation places, for WithOutcomes.
type Call struct {
	TaskSN  string
	Phone   string
	Name    string
	Attempt int               // 1 for the first call to the number in its task
	Columns map[string]string // the imported row, keys without "*"
}

// Outcome is how a simulated call ends. ManualGrade and ScreenPop are what 6.1 lists and 6.6.1
// pushes as status_manual and fs_push_screens.
type Outcome struct {
	Connected bool
	Ring      time.Duration // simulated time until answer or give-up; default 5s
	Talk      time.Duration // simulated talk time of a connected call; default 30s
	Grade     string        // 意向等级 A–F; default "C" when connected, "F" when not
	Reason    string        // why a call did not connect, a 6.5 name such as "关机"; default "无人应答"

	// ManualGrade is the 人工分类 a person gave the call, A–F; default "", not classified.
	ManualGrade string
	// ScreenPop is how the call popped up on an agent's screen: 0 not (the default), 1 弹屏, 2 坐席
	// 未在线弹屏 (while no agent was online).
	ScreenPop int
}
