package digelao_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

// The examples below run against digelaotest, the in-process fake platform; against the real
// platform only the address and the credentials change.

func ExampleTasksService_CreateAsync() {
	ctx := context.Background()
	srv := digelaotest.NewServer(digelaotest.WithManualTime())
	defer srv.Close()
	c, err := digelao.New(srv.URL, digelao.WithPassword(digelaotest.Username, digelaotest.Password))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()

	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	if err != nil {
		log.Fatal(err)
	}
	task, err := c.Tasks.CreateAsync(ctx, &digelao.CreateTaskRequest{
		Name: "十一月回访", ProjectSN: digelaotest.TemplateSN, SeatSN: digelaotest.SeatSN, AutoStart: true,
		Columns: cols,
		Contacts: []digelao.Contact{
			{Phone: "13800138000", Name: "张三"},
			{Phone: "13900139000", Name: "李四", Fields: map[string]string{"地址": "上海"}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Flush(ctx); err != nil { // the fake imports and dials now
		log.Fatal(err)
	}
	res, err := c.Tasks.ImportInfo(ctx, task.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("columns:", len(cols), "imported:", res.Counts.Success, "of", res.Counts.Total)
	// Output: columns: 5 imported: 2 of 2
}

func ExampleRecordsService_All() {
	ctx := context.Background()
	srv := digelaotest.NewServer(digelaotest.WithManualTime(),
		digelaotest.WithOutcomes(func(call digelaotest.Call) digelaotest.Outcome {
			return digelaotest.Outcome{Connected: call.Phone != "13900139000", Grade: "A"}
		}))
	defer srv.Close()
	c, err := digelao.New(srv.URL, digelao.WithPassword(digelaotest.Username, digelaotest.Password))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	if err != nil {
		log.Fatal(err)
	}
	task, err := c.Tasks.Create(ctx, &digelao.CreateTaskRequest{
		Name: "回访", ProjectSN: digelaotest.TemplateSN, SeatSN: digelaotest.SeatSN, AutoStart: true,
		Columns: cols, Contacts: []digelao.Contact{{Phone: "13800138000"}, {Phone: "13900139000"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Flush(ctx); err != nil {
		log.Fatal(err)
	}

	connected := 0
	for r, err := range c.Records.All(ctx, &digelao.RecordListOptions{TaskSN: task.SN}) {
		if err != nil {
			log.Fatal(err)
		}
		if !r.Connected() {
			continue
		}
		connected++
		n, err := c.Records.Download(ctx, r.RecordPath, r.RecordFile, io.Discard) // or a file
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(r.Phone, r.Intent(), "recording:", n > 0)
	}
	fmt.Println("connected calls:", connected)
	// Output:
	// 13800138000 A recording: true
	// connected calls: 1
}

// fake starts the fake platform with manual time (nothing happens until Flush) and returns
// a client of its default account. Against the real platform only the address and the credentials
// change.
func fake(opts ...digelaotest.Option) (*digelaotest.Server, *digelao.Client) {
	srv := digelaotest.NewServer(append([]digelaotest.Option{digelaotest.WithManualTime()}, opts...)...)
	c, err := digelao.New(srv.URL, digelao.WithPassword(digelaotest.Username, digelaotest.Password))
	if err != nil {
		log.Fatal(err)
	}
	return srv, c
}

func ExampleTasksService_List() {
	ctx := context.Background()
	srv, c := fake()
	defer srv.Close()
	defer c.CloseIdleConnections()
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"十一月回访", "催缴提醒"} {
		_, err := c.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: name, ProjectSN: digelaotest.TemplateSN,
			SeatSN: digelaotest.SeatSN, Columns: cols, Contacts: []digelao.Contact{{Phone: "13800138000"}}})
		if err != nil {
			log.Fatal(err)
		}
	}

	// Without CreatedFrom and CreatedTo the platform lists today's tasks only.
	tasks, total, err := c.Tasks.List(ctx, &digelao.TaskListOptions{Status: digelao.TaskPaused})
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tasks {
		fmt.Println(t.Name, t.Status, t.Total, "number")
	}
	fmt.Println(total, "paused tasks")
	// Output:
	// 催缴提醒 暂停发送 1 number
	// 十一月回访 暂停发送 1 number
	// 2 paused tasks
}

func ExampleTasksService_Operate() {
	ctx := context.Background()
	srv, c := fake()
	defer srv.Close()
	defer c.CloseIdleConnections()
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	if err != nil {
		log.Fatal(err)
	}
	task, err := c.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: "回访", ProjectSN: digelaotest.TemplateSN,
		SeatSN: digelaotest.SeatSN, Columns: cols, // no AutoStart: the task waits, paused
		Contacts: []digelao.Contact{{Phone: "13800138000"}, {Phone: "13900139000"}}})
	if err != nil {
		log.Fatal(err)
	}
	status := func() digelao.TaskStatus {
		d, err := c.Tasks.Details(ctx, task.ID, nil)
		if err != nil {
			log.Fatal(err)
		}
		return d.Task.Status
	}
	fmt.Println("created:", status())

	if err := c.Tasks.Operate(ctx, task.ID, digelao.TaskResume); err != nil { // starts it
		log.Fatal(err)
	}
	if err := srv.Flush(ctx); err != nil { // the fake dials both numbers now
		log.Fatal(err)
	}
	fmt.Println("resumed:", status())
	// Output:
	// created: 暂停发送
	// resumed: 已发送
}

func ExampleTasksService_ImportInBatches() {
	ctx := context.Background()
	srv, c := fake()
	defer srv.Close()
	defer c.CloseIdleConnections()
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	if err != nil {
		log.Fatal(err)
	}
	contacts := make([]digelao.Contact, 5) // any number; here batches of 2 to show the batching
	for i := range contacts {
		contacts[i] = digelao.Contact{Phone: fmt.Sprintf("1380013800%d", i), Name: fmt.Sprintf("客户%d", i+1)}
	}
	res, err := c.Tasks.ImportInBatches(ctx, &digelao.CreateTaskRequest{Name: "十一月回访",
		ProjectSN: digelaotest.TemplateSN, SeatSN: digelaotest.SeatSN, Columns: cols, Contacts: contacts, BatchSize: 2})
	if err != nil {
		// res says how far it got: resume with AppendTo: res.Task.SN and contacts[res.Sent:].
		log.Fatal(err)
	}
	fmt.Println(res.Batches, "batches,", res.Sent, "contacts sent to one task")

	if err := srv.Flush(ctx); err != nil { // the fake imports them now
		log.Fatal(err)
	}
	d, err := c.Tasks.Details(ctx, res.Task.ID, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Total, "numbers in the task")
	// Output:
	// 3 batches, 5 contacts sent to one task
	// 5 numbers in the task
}

func ExampleRecordsService_Download() {
	ctx := context.Background()
	srv, c := fake()
	defer srv.Close()
	defer c.CloseIdleConnections()
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	if err != nil {
		log.Fatal(err)
	}
	task, err := c.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: "回访", ProjectSN: digelaotest.TemplateSN,
		SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols, Contacts: []digelao.Contact{{Phone: "13800138000"}}})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	records, _, err := c.Records.List(ctx, &digelao.RecordListOptions{TaskSN: task.SN})
	if err != nil {
		log.Fatal(err)
	}
	r := records[0]

	dir, err := os.MkdirTemp("", "recordings")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f, err := os.Create(filepath.Join(dir, path.Base(r.RecordFile)))
	if err != nil {
		log.Fatal(err)
	}
	n, err := c.Records.Download(ctx, r.RecordPath, r.RecordFile, f) // streamed into f
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(path.Ext(f.Name()), string(b[:4]), n == int64(len(b)))

	// A recording the platform does not have is an error, never an error page saved as a file.
	_, err = c.Records.Download(ctx, r.RecordPath, "/mnt/record/none.wav", io.Discard)
	fmt.Println("a missing recording is an error:", errors.Is(err, digelao.ErrBadReply))
	// Output:
	// .wav RIFF true
	// a missing recording is an error: true
}

// Pushes and sweeps of the call-record list meet in one delivery: here the receiver is down for
// one call's pushes, and the sweep delivers that record, once.
func ExampleNewRecordSync() {
	ctx := context.Background()
	srv, c := fake(digelaotest.WithOutcomes(func(digelaotest.Call) digelaotest.Outcome {
		return digelaotest.Outcome{Connected: true, Talk: 30 * time.Second, Grade: "A"}
	}))
	defer srv.Close()
	defer c.CloseIdleConnections()

	var mu sync.Mutex
	saved := map[string]string{} // your database: an idempotent upsert by r.SN
	rs, err := digelao.NewRecordSync(c, func(_ context.Context, r *digelao.CallRecord) error {
		mu.Lock()
		defer mu.Unlock()
		saved[r.SN] = r.Phone
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	token := digelao.NewSecret("a-long-random-token")
	receiver := httptest.NewServer(&digelao.PushHandler{Token: token, Logger: slog.New(slog.DiscardHandler),
		OnCallRecord: func(ctx context.Context, r *digelao.CallRecord) error {
			if r.Phone == "13900139000" {
				return errors.New("database down") // answered 500: the platform tries again, three times
			}
			return rs.Push(ctx, r)
		}})
	defer receiver.Close()
	if err := c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: receiver.URL, Token: token}); err != nil {
		log.Fatal(err)
	}

	start := time.Now()
	cols, err := c.Tasks.ImportColumns(ctx, digelaotest.TemplateSN)
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Tasks.Create(ctx, &digelao.CreateTaskRequest{Name: "回访", ProjectSN: digelaotest.TemplateSN,
		SeatSN: digelaotest.SeatSN, AutoStart: true, Columns: cols,
		Contacts: []digelao.Contact{{Phone: "13800138000"}, {Phone: "13900139000"}}})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Flush(ctx); err != nil { // the calls, their pushes and the retries
		log.Fatal(err)
	}
	fmt.Println("delivered by pushes:", rs.Stats().Pushed)

	// Run sweeps by itself, every 5 minutes, from a checkpoint; here one sweep by hand.
	st, err := rs.Sweep(ctx, start.Add(-time.Minute), start.Add(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the sweep found", st.Found, "records:", st.GapsFilled, "gap filled,", st.Duplicates, "already delivered")
	mu.Lock()
	defer mu.Unlock()
	fmt.Println("saved:", len(saved))
	// Output:
	// delivered by pushes: 1
	// the sweep found 2 records: 1 gap filled, 1 already delivered
	// saved: 2
}
