// Command quickstart walks through the platform's everyday flow: log in, point the pushes at a
// local receiver, create a task with contacts, receive the import result and the call records as
// pushes, and list the records.
//
// By default it runs offline against digelaotest, the in-process fake platform. With
// DIGELAO_BASE_URL and credentials (DIGELAO_USERNAME/DIGELAO_PASSWORD or
// DIGELAO_ACCESS_ID/DIGELAO_ACCESS_SECRET) it runs against a real account; it then creates a task
// only when DIGELAO_PHONES lists numbers to call, and receives pushes only when
// DIGELAO_CALLBACK_URL is a public URL that reaches this program's listener (DIGELAO_LISTEN).
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// config is what the environment says; the zero value means the offline fake.
type config struct {
	baseURL, user, pass, accessID, accessSecret string
	callbackURL, listen                         string
	template, seat                              string
	phones                                      []string
}

func configFromEnv() config {
	cfg := config{
		baseURL: os.Getenv("DIGELAO_BASE_URL"), user: os.Getenv("DIGELAO_USERNAME"),
		pass: os.Getenv("DIGELAO_PASSWORD"), accessID: os.Getenv("DIGELAO_ACCESS_ID"),
		accessSecret: os.Getenv("DIGELAO_ACCESS_SECRET"), callbackURL: os.Getenv("DIGELAO_CALLBACK_URL"),
		listen: os.Getenv("DIGELAO_LISTEN"), template: os.Getenv("DIGELAO_TEMPLATE_SN"),
		seat: os.Getenv("DIGELAO_SEAT_SN"),
	}
	if p := os.Getenv("DIGELAO_PHONES"); p != "" {
		cfg.phones = strings.Split(p, ",")
	}
	return cfg
}

func run(ctx context.Context, out io.Writer) error {
	cfg := configFromEnv()
	say := func(format string, args ...any) { _, _ = fmt.Fprintf(out, format+"\n", args...) }
	step := 0
	next := func(title string) { step++; say("\n%d. %s", step, title) }

	if cfg.baseURL == "" {
		srv := digelaotest.NewServer()
		defer srv.Close()
		cfg.baseURL, cfg.user, cfg.pass = srv.URL, digelaotest.Username, digelaotest.Password
		cfg.template, cfg.seat = digelaotest.TemplateSN, digelaotest.SeatSN
		cfg.phones = []string{"13800138000", "13900139000", "13700137000"}
		say("Offline: the fake platform (digelaotest) is serving at %s.", srv.URL)
		say("Set DIGELAO_BASE_URL and credentials to run this against a real account.")
	}
	cred := digelao.WithPassword(cfg.user, cfg.pass)
	if cfg.accessID != "" {
		cred = digelao.WithAccessKey(cfg.accessID, cfg.accessSecret)
	}
	c, err := digelao.New(cfg.baseURL, cred)
	if err != nil {
		return err
	}

	next("Logging in")
	s, err := c.Login(ctx)
	if err != nil {
		return err
	}
	say("   account %s (%s), %d AI seats; api_key valid until %s", s.UserName, s.UserSN, s.AICount,
		s.ExpiresAt.Local().Format(time.DateTime))

	next("Starting a local push receiver and pointing the pushes at it")
	rcv, err := startReceiver(ctx, cfg.listen)
	if err != nil {
		return err
	}
	defer rcv.close()
	pushURL := cfg.callbackURL
	if pushURL == "" {
		pushURL = rcv.url
	}
	if err := c.SetCallback(ctx, digelao.CallbackConfig{Open: true,
		CallbackURL: pushURL + "?token=" + rcv.token, TaskCallbackURL: pushURL + "?token=" + rcv.token}); err != nil {
		return err
	}
	say("   pushes go to %s (with a secret token)", pushURL)

	next("Reading the template's import columns (5.11 exportModel)")
	if cfg.template == "" {
		return errors.New("set DIGELAO_TEMPLATE_SN to the script template to use")
	}
	var columns [][]string
	if err := c.Do(ctx, http.MethodGet, "/api/exportModel",
		digelao.NewParams().Set("project_sn", cfg.template).Set("type", "json"), &columns); err != nil {
		return err
	}
	if len(columns) == 0 {
		return errors.New("the template has no import columns")
	}
	say("   columns: %s (a * marks a required one)", strings.Join(columns[0], ", "))

	if len(cfg.phones) == 0 || cfg.seat == "" {
		say("\nSet DIGELAO_PHONES (comma-separated) and DIGELAO_SEAT_SN to create a task and place calls.")
		return nil
	}
	next(fmt.Sprintf("Creating a task that calls %d contacts (5.7.2 addJsonOfAsync)", len(cfg.phones)))
	rows := make([]*digelao.Params, len(cfg.phones))
	for i, phone := range cfg.phones {
		rows[i] = digelao.NewParams().Set("姓名", fmt.Sprintf("客户%d", i+1)).Set("电话", phone)
	}
	var created struct {
		TaskSN string `json:"dial_task_main_sn"`
	}
	if err := c.Do(ctx, http.MethodPost, "/api/addJsonOfAsync", digelao.NewParams().
		Set("project_sn", cfg.template).Set("source", "快速开始").Set("ai_user_sn", cfg.seat).
		Set("is_zidong", "on").Set("client_info_json", digelao.NewParams().Set("data", rows)), &created); err != nil {
		return err
	}
	say("   task %s is importing", created.TaskSN)

	next("Waiting for the import result push (5.7.15)")
	imp, err := rcv.next(ctx, func(p map[string]any) bool { return p["import_mark"] != nil })
	if err != nil {
		return err
	}
	say("   %v", imp["import_mark"])

	next("Waiting for a call-record push per contact (6.6.1)")
	for range cfg.phones {
		rec, err := rcv.next(ctx, func(p map[string]any) bool { return p["sn"] != nil })
		if err != nil {
			return err
		}
		say("   %v  grade %v  talked %vs", rec["phone"], rec["status"], rec["talktimes"])
	}

	next("Listing the task's call records (6.1 crmList)")
	var list struct {
		Total json.Number      `json:"total"`
		List  []map[string]any `json:"list"`
	}
	if err := c.Do(ctx, http.MethodPost, "/api/crmList", digelao.NewParams().
		Set("dial_task_main_sn", created.TaskSN).Set("pageIndex", 0).Set("pageSize", 100), &list); err != nil {
		return err
	}
	say("   %s records", list.Total)
	say("\nDone.")
	return nil
}

// receiver is a minimal push endpoint for this walk-through: it answers SUCCESS to each push that
// carries its token and hands the decoded body on.
type receiver struct {
	url, token string
	srv        *http.Server
	pushes     chan map[string]any
	done       chan error
}

func startReceiver(ctx context.Context, addr string) (*receiver, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + l.Addr().String() + "/push", token: rand.Text(),
		pushes: make(chan map[string]any, 64), done: make(chan error, 1)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { r.done <- r.srv.Serve(l) }()
	return r, nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	var body map[string]any
	if req.URL.Query().Get("token") != r.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<20)).Decode(&body); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	select {
	case r.pushes <- body:
		_, _ = io.WriteString(w, "SUCCESS")
	default:
		http.Error(w, "busy", http.StatusServiceUnavailable) // not stored: the platform delivers again
	}
}

// next returns the next push that matches, within a minute.
func (r *receiver) next(ctx context.Context, match func(map[string]any) bool) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		select {
		case p := <-r.pushes:
			if match(p) {
				return p, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for a push: %w", ctx.Err())
		}
	}
}

func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
	<-r.done
}
