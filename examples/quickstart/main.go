// Command quickstart walks through the platform's everyday flow with the SDK's typed API: log in,
// receive the pushes on a local PushHandler, read a script template's import columns, create a
// task with contacts, receive the import result and one call record per contact as pushes, then
// list the task's records, show one call's dialogue and download its recording.
//
// By default it runs offline against digelaotest, the in-process fake platform, in about a second.
// With DIGELAO_BASE_URL and credentials (DIGELAO_USERNAME/DIGELAO_PASSWORD or
// DIGELAO_ACCESS_ID/DIGELAO_ACCESS_SECRET) it runs against a real account, and only with
// DIGELAO_QUICKSTART_REAL=1 besides: without it, it says what it would do to the account and stops.
//
//   - It takes the api_key the account's services share through Redis when DIGELAO_REDIS_URL
//     (and DIGELAO_REDIS_PREFIX, as the digelao command reads them) names theirs; otherwise it logs
//     in, which cancels the key of every other holder of the account, and says so first.
//   - DIGELAO_PHONES (comma-separated numbers to call) and DIGELAO_SEAT_SN (the AI seat that calls)
//     make it create a task and place the calls. Without them it only reads the template, and
//     leaves the account's push setting alone.
//   - With them it points the account's push URLs at its own listener, and leaves them there: the
//     platform cannot tell what they were. At the end it prints the "digelao set-callback" command
//     that points them back at your receiver.
//   - DIGELAO_CALLBACK_URL is a public URL that reaches this program's listener (DIGELAO_LISTEN,
//     default 127.0.0.1:0); the account's push URLs are set to it. Without it they are set to the
//     listener's own address, which only a platform on this network reaches.
//   - DIGELAO_TEMPLATE_SN picks the script template (default: the first one listed).
//   - DIGELAO_KEEP=1 keeps the downloaded recording.
//
// Ctrl-C stops it cleanly.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/redisstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, configFromEnv()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// config says what to run against; the zero value runs offline against the fake platform.
type config struct {
	baseURL, user, pass, accessID, accessSecret string
	real                                        bool   // consent to use the account at baseURL (DIGELAO_QUICKSTART_REAL=1)
	redisURL, redisPrefix                       string // where the services share the api_key, if they do
	callbackURL, listen                         string // the public push URL, and the receiver's address
	template, seat                              string
	phones                                      []string
	keep                                        bool          // keep the downloaded recording
	wait                                        time.Duration // how long to wait for the pushes; 0: defaultWait
}

// defaultWait bounds the wait for the pushes: calls take minutes, and each call's push comes
// about a minute after hang-up (6.6.1).
const defaultWait = 10 * time.Minute

// importWait is how long to wait for the import-result push before polling for the result.
const importWait = time.Minute

// chinaTime is the platform's time zone, in which the walk-through prints times, as the digelao
// command does.
var chinaTime = time.FixedZone("UTC+8", 8*60*60)

func configFromEnv() config {
	cfg := config{
		baseURL: os.Getenv("DIGELAO_BASE_URL"), user: os.Getenv("DIGELAO_USERNAME"),
		pass: os.Getenv("DIGELAO_PASSWORD"), accessID: os.Getenv("DIGELAO_ACCESS_ID"),
		accessSecret: os.Getenv("DIGELAO_ACCESS_SECRET"), callbackURL: os.Getenv("DIGELAO_CALLBACK_URL"),
		listen: os.Getenv("DIGELAO_LISTEN"), template: os.Getenv("DIGELAO_TEMPLATE_SN"),
		seat: os.Getenv("DIGELAO_SEAT_SN"), keep: os.Getenv("DIGELAO_KEEP") != "",
		real: os.Getenv("DIGELAO_QUICKSTART_REAL") == "1", redisURL: os.Getenv("DIGELAO_REDIS_URL"),
		redisPrefix: os.Getenv("DIGELAO_REDIS_PREFIX"),
	}
	for p := range strings.SplitSeq(os.Getenv("DIGELAO_PHONES"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.phones = append(cfg.phones, p)
		}
	}
	return cfg
}

// offline returns cfg pointed at the fake platform at url, with three sample contacts.
func (cfg config) offline(url string) config {
	cfg.baseURL, cfg.user, cfg.pass = url, digelaotest.Username, digelaotest.Password
	cfg.accessID, cfg.callbackURL, cfg.redisURL = "", "", ""
	cfg.seat = digelaotest.SeatSN
	cfg.phones = []string{"13800138000", "13900139000", "13700137000"}
	return cfg
}

// sampleOutcome is how the fake ends the offline calls: the first two numbers answer, the third
// does not.
func sampleOutcome(c digelaotest.Call) digelaotest.Outcome {
	switch c.Phone {
	case "13800138000":
		return digelaotest.Outcome{Connected: true, Talk: 48 * time.Second, Grade: "A"}
	case "13900139000":
		return digelaotest.Outcome{Connected: true, Talk: 21 * time.Second, Grade: "C"}
	}
	return digelaotest.Outcome{Reason: "无人应答"}
}

// printer numbers the steps of the walk-through.
type printer struct{ out io.Writer }

func (p printer) step(n int, format string, args ...any) {
	_, _ = fmt.Fprintf(p.out, "\n%d. "+format+"\n", append([]any{n}, args...)...)
}

func (p printer) say(format string, args ...any) {
	_, _ = fmt.Fprintf(p.out, "   "+format+"\n", args...)
}

// loginCancels is what a login does to the account's other holders.
const loginCancels = "a login cancels the api_key of every other holder of the account (a service, another " +
	"shell), which must then log in again"

// errNoConsent is the answer to a real account without DIGELAO_QUICKSTART_REAL=1: what the
// walk-through would do to it.
func errNoConsent(cfg config) error {
	return fmt.Errorf("DIGELAO_BASE_URL is set, so this would run against the real account at %s: "+
		"it would log in unless DIGELAO_REDIS_URL shares the services' key (%s), and with DIGELAO_PHONES and "+
		"DIGELAO_SEAT_SN it would call those numbers and point the account's pushes at this program, where they "+
		"stay until you set them back (\"digelao set-callback\"). Set DIGELAO_QUICKSTART_REAL=1 to go on, or unset "+
		"DIGELAO_BASE_URL to run offline against the fake platform", cfg.baseURL, loginCancels)
}

func run(ctx context.Context, out io.Writer, cfg config) error {
	p := printer{out}
	switch {
	case cfg.baseURL == "":
		srv, err := digelaotest.New(digelaotest.WithOutcomes(sampleOutcome))
		if err != nil {
			return err
		}
		defer srv.Close()
		cfg = cfg.offline(srv.URL)
		_, _ = fmt.Fprintf(out, "Offline: the fake platform (digelaotest) serves at %s.\n", srv.URL)
		_, _ = fmt.Fprintln(out, "Set DIGELAO_BASE_URL, credentials and DIGELAO_QUICKSTART_REAL=1 to run against a real account.")
	case !cfg.real:
		return errNoConsent(cfg)
	}
	if cfg.wait <= 0 {
		cfg.wait = defaultWait
	}
	c, closeStore, err := newClient(cfg, p)
	if err != nil {
		return err
	}
	defer closeStore()

	p.step(1, "Logging in")
	s, err := c.Session(ctx) // the shared key when there is one: a login would cancel it
	if err != nil {
		return err
	}
	p.say("account %s (user_sn %s), %d AI calls at once (ai_count); api_key valid until %s China time (UTC+8)",
		s.UserName, s.UserSN, s.AICount, s.ExpiresAt.In(chinaTime).Format(time.DateTime))

	calling := len(cfg.phones) > 0 && cfg.seat != ""
	p.step(2, "Starting a local push receiver and pointing the pushes at it")
	var rcv *receiver
	if calling {
		if rcv, err = startReceiver(ctx, cfg.listen); err != nil {
			return err
		}
		defer rcv.close()
		if err := pointPushes(ctx, c, p, rcv, cfg.callbackURL); err != nil {
			return err
		}
		if cfg.real {
			p.say("warning: the account's pushes now come here, not to your receiver, and stay so after this " +
				"program ends; the command that points them back is printed at the end")
			defer p.restorePushes()
		}
	} else {
		p.say("skipped: no calls to place, so the account's push setting is left as it is")
	}

	p.step(3, "Reading the script template's import columns")
	tpl, cols, err := columns(ctx, c, cfg.template)
	if err != nil {
		return err
	}
	p.say("template %s", tpl)
	p.say("columns: %s", describe(cols))

	if !calling {
		_, _ = fmt.Fprintln(out, "\nSteps 4–7 skipped: set DIGELAO_PHONES (comma-separated numbers to call) and\n"+
			"DIGELAO_SEAT_SN (the AI seat that calls) to create a task and place the calls.")
		p.step(8, "Summary")
		p.say("logged in and read the template; no task created")
		return nil
	}

	p.step(4, "Creating a task with %d contacts (starting once imported)", len(cfg.phones))
	task, err := c.Tasks.CreateAsync(ctx, &digelao.CreateTaskRequest{
		Name: "快速开始", ProjectSN: tpl.sn, SeatSN: cfg.seat, AutoStart: true,
		Columns: cols, Contacts: contacts(cfg.phones, cols),
	})
	if err != nil {
		return err
	}
	p.say("task %s (id %d) is importing", task.SN, task.ID)

	p.step(5, "Waiting for the import-result push")
	counts, err := importResult(ctx, c, p, rcv, task, min(importWait, cfg.wait), cfg.wait)
	if err != nil {
		return err
	}
	p.say("imported %d of %d (failed %d, duplicates %d, on the do-not-call list %d)",
		counts.Success, counts.Total, counts.Fail, counts.Repeat, counts.Blacklist)

	p.step(6, "Waiting for a call-record push per contact")
	received, err := callRecords(ctx, p, rcv, task.SN, counts.Success, cfg.wait)
	if err != nil {
		return err
	}

	p.step(7, "Listing the task's call records, with one call's dialogue and recording")
	connected, size, err := review(ctx, c, p, task.SN, cfg.keep)
	if err != nil {
		return err
	}

	p.step(8, "Summary")
	p.say("task %s: %d numbers imported, %d call records pushed, %d calls connected, a recording of %d bytes downloaded",
		task.SN, counts.Success, received, connected, size)
	return nil
}

// newClient returns a client for cfg's account that keeps its session where the services share
// theirs (DIGELAO_REDIS_URL), and, against a real account, says so before it logs in.
func newClient(cfg config, p printer) (*digelao.Client, func(), error) {
	cred := digelao.WithPassword(cfg.user, cfg.pass)
	if cfg.accessID != "" {
		cred = digelao.WithAccessKey(cfg.accessID, cfg.accessSecret)
	}
	var store digelao.TokenStore = digelao.NewMemoryStore()
	closeStore := func() {}
	where := "no DIGELAO_REDIS_URL names a key the services share"
	if cfg.redisURL != "" {
		opts, err := redis.ParseURL(cfg.redisURL)
		if err != nil {
			return nil, nil, errors.New("DIGELAO_REDIS_URL: want redis://[user:password@]host:port[/db]") // it may hold a password
		}
		rdb := redis.NewClient(opts)
		var ropts []redisstore.Option
		if cfg.redisPrefix != "" {
			ropts = append(ropts, redisstore.WithPrefix(cfg.redisPrefix))
		}
		if store, err = redisstore.New(rdb, ropts...); err != nil {
			_ = rdb.Close()
			return nil, nil, err
		}
		closeStore = func() { _ = rdb.Close() }
		where = "Redis (DIGELAO_REDIS_URL) holds no usable key for these credentials under DIGELAO_REDIS_PREFIX"
	}
	if cfg.real {
		store = &loginNotice{TokenStore: store, say: func() { p.say("warning: logging in, since %s: %s.", where, loginCancels) }}
	}
	c, err := digelao.New(cfg.baseURL, cred, digelao.WithTokenStore(store))
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return c, closeStore, nil
}

// loginNotice is a TokenStore that sees the client log in — a login takes the store's lock first
// — and calls say before the first.
type loginNotice struct {
	digelao.TokenStore
	say  func()
	once sync.Once
}

// Lock implements digelao.TokenStore.
func (l *loginNotice) Lock(ctx context.Context, key string, ttl time.Duration) (func(context.Context) error, bool, error) {
	unlock, ok, err := l.TokenStore.Lock(ctx, key, ttl)
	if ok {
		l.once.Do(l.say)
	}
	return unlock, ok, err
}

// restorePushes says where the account's pushes now go, and how to point them back: the platform
// has no call that reads the setting, so the walk-through could not keep it.
func (p printer) restorePushes() {
	_, _ = fmt.Fprintln(p.out, "\nThe account's pushes still go to this program's listener, which stops with it. Point them "+
		"back at your receiver\n(with DIGELAO_PUSH_TOKEN set as it expects, or --no-token):\n"+
		"   digelao set-callback --url YOUR_CALL_RECORD_URL --task-url YOUR_IMPORT_RESULT_URL")
}

// pointPushes sets the account's push URLs — the public base when given, else the receiver's own
// address — with the receiver's token.
func pointPushes(ctx context.Context, c *digelao.Client, p printer, rcv *receiver, public string) error {
	base := rcv.url
	if public != "" {
		base = public
	}
	cfg := &digelao.CallbackRequest{Open: true, CallbackURL: base, TaskCallbackURL: base, Token: rcv.token}
	if err := c.SetCallback(ctx, cfg); err != nil {
		return err
	}
	p.say("receiving on %s; call records and import results are pushed to %s?token=… (a random token)", rcv.addr, base)
	return nil
}

// template names a script template.
type template struct{ sn, name string }

func (t template) String() string {
	if t.name == "" {
		return t.sn
	}
	return fmt.Sprintf("%s (%s)", t.name, t.sn)
}

// columns returns the template sn, or else the first listed, and its import columns.
func columns(ctx context.Context, c *digelao.Client, sn string) (template, digelao.Columns, error) {
	tpl := template{sn: sn}
	if sn == "" {
		list, _, err := c.Templates.List(ctx, nil)
		if err != nil {
			return tpl, nil, err
		}
		if len(list) == 0 {
			return tpl, nil, errors.New("the account has no script template: create one in the console")
		}
		tpl = template{sn: list[0].SN, name: list[0].Name}
	}
	cols, err := c.Tasks.ImportColumns(ctx, tpl.sn)
	return tpl, cols, err
}

// describe lists the columns, marking the required ones.
func describe(cols digelao.Columns) string {
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.Name
		if col.Required {
			names[i] += " (required)"
		}
	}
	return strings.Join(names, ", ")
}

// contacts returns one contact per phone, named when the template has a name column.
func contacts(phones []string, cols digelao.Columns) []digelao.Contact {
	named := cols.Index("姓名") >= 0
	out := make([]digelao.Contact, len(phones))
	for i, phone := range phones {
		out[i].Phone = phone
		if named {
			out[i].Name = fmt.Sprintf("客户%d", i+1)
		}
	}
	return out
}

// importResult waits up to pushWait for the task's import-result push, then polls for the result
// for up to wait.
func importResult(ctx context.Context, c *digelao.Client, p printer, rcv *receiver, task *digelao.CreatedTask,
	pushWait, wait time.Duration) (digelao.ImportCounts, error) {
	if r := pushed(ctx, pushWait, rcv.imports, func(r *digelao.ImportResult) bool { return r.TaskSN == task.SN }); r != nil {
		if r.Failure != "" {
			return r.Counts, fmt.Errorf("the import failed: %s", r.Failure)
		}
		return r.Counts, nil
	}
	if err := ctx.Err(); err != nil {
		return digelao.ImportCounts{}, err
	}
	p.say("no push within %s: asking for the result instead (5.7.4 getImportTaskInfo)", pushWait)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		info, err := c.Tasks.ImportInfo(ctx, task.ID)
		if err != nil {
			return digelao.ImportCounts{}, err
		}
		if info.Percent >= 100 {
			return info.Counts, nil
		}
		p.say("%.0f%% imported", info.Percent)
		select {
		case <-tick.C:
		case <-ctx.Done():
			return digelao.ImportCounts{}, fmt.Errorf("waiting for the import: %w", ctx.Err())
		}
	}
}

// pushed returns the first push from ch that matches, or nil when ctx ends or wait passes first.
func pushed[T any](ctx context.Context, wait time.Duration, ch <-chan T, match func(T) bool) T {
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		select {
		case v := <-ch:
			if match(v) {
				return v
			}
		case <-timeout.C:
			var zero T
			return zero
		case <-ctx.Done():
			var zero T
			return zero
		}
	}
}

// callRecords prints the task's call-record pushes until want have come or wait has passed, and
// returns how many came. Running out of time is not an error: the records can still be listed.
func callRecords(ctx context.Context, p printer, rcv *receiver, taskSN string, want int, wait time.Duration) (int, error) {
	deadline := time.Now().Add(wait)
	got := 0
	for ; got < want; got++ {
		r := pushed(ctx, time.Until(deadline), rcv.records, func(r *digelao.CallRecord) bool { return r.TaskSN == taskSN })
		switch {
		case ctx.Err() != nil:
			return got, ctx.Err()
		case r == nil:
			p.say("%d of %d call records pushed within %s; the others may still come", got, want, wait)
			return got, nil
		case r.Connected():
			p.say("%s  intent grade %s  talked %ds", r.Phone, r.Intent(), r.TalkTime)
		default:
			p.say("%s  not connected", r.Phone)
		}
	}
	return got, nil
}

// review lists the task's records, prints the dialogue of the first connected call and
// downloads its recording into a temporary directory, removed unless keep. It returns how many
// calls connected and the recording's size.
func review(ctx context.Context, c *digelao.Client, p printer, taskSN string, keep bool) (int, int64, error) {
	records, total, err := c.Records.List(ctx, &digelao.RecordListOptions{TaskSN: taskSN,
		ListOptions: digelao.ListOptions{PerPage: 100}})
	if err != nil {
		return 0, 0, err
	}
	p.say("%d records", total)
	var call *digelao.CallRecord
	connected := 0
	for _, r := range records {
		if r.Connected() {
			connected++
			if call == nil && r.RecordFile != "" {
				call = r
			}
		}
	}
	if call == nil {
		p.say("no call connected yet: no dialogue or recording to show")
		return connected, 0, nil
	}
	d, err := c.Records.Dialogue(ctx, call.SN, call.ConnectedAt)
	if err != nil {
		return connected, 0, err
	}
	p.say("dialogue with %s:", call.Phone)
	for _, t := range d.Turns() {
		if t.Customer {
			p.say("  customer: %s", t.Answer)
		} else {
			p.say("  robot:    %s", t.Text)
		}
	}
	dir, err := os.MkdirTemp("", "digelao-quickstart-")
	if err != nil {
		return connected, 0, err
	}
	if !keep {
		defer func() { _ = os.RemoveAll(dir) }()
	}
	name := filepath.Join(dir, "recording"+path.Ext(call.RecordFile))
	size, err := download(ctx, c, call, name)
	if err != nil {
		return connected, size, err
	}
	note := "removed on exit; DIGELAO_KEEP=1 keeps it"
	if keep {
		note = "kept"
	}
	p.say("recording: %d bytes saved to %s (%s)", size, name, note)
	return connected, size, nil
}

// download saves the recording of r to the file name.
func download(ctx context.Context, c *digelao.Client, r *digelao.CallRecord, name string) (int64, error) {
	f, err := os.Create(name) //nolint:gosec // a path of our own temporary directory
	if err != nil {
		return 0, err
	}
	n, err := c.Records.Download(ctx, r.RecordPath, r.RecordFile, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// receiver serves a PushHandler on a local address and hands the pushes to the walk-through. A
// push is answered SUCCESS once taken; while nobody takes it, it waits until its request ends or
// the receiver closes, and the platform delivers it again.
type receiver struct {
	url, addr string
	token     digelao.Secret
	imports   chan *digelao.ImportResult
	records   chan *digelao.CallRecord
	srv       *http.Server
	served    chan error
	stop      context.CancelFunc
}

func startReceiver(ctx context.Context, addr string) (*receiver, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	open, stop := context.WithCancel(ctx)
	r := &receiver{addr: l.Addr().String(), token: digelao.NewSecret(rand.Text()), stop: stop, served: make(chan error, 1),
		imports: make(chan *digelao.ImportResult, 8), records: make(chan *digelao.CallRecord, 64)}
	r.url = "http://" + r.addr + "/push"
	h := &digelao.PushHandler{
		Token: r.token,
		OnImportResult: func(req context.Context, v *digelao.ImportResult) error {
			return hand(req, open, r.imports, v)
		},
		OnCallRecord: func(req context.Context, v *digelao.CallRecord) error {
			return hand(req, open, r.records, v)
		},
	}
	// Every timeout set: a sender that stalls mid-request, or an idle connection, is dropped.
	r.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() { r.served <- r.srv.Serve(l) }()
	return r, nil
}

// hand sends v on ch, unless the push's request or the receiver ends first.
func hand[T any](req, open context.Context, ch chan<- T, v T) error {
	select {
	case ch <- v:
		return nil
	case <-req.Done():
		return req.Err()
	case <-open.Done():
		return errors.New("the receiver is closing")
	}
}

// close stops the receiver: pushes waiting to be taken are refused, those in flight answered.
func (r *receiver) close() {
	r.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
	<-r.served
}
