package digelao_test

import (
	"context"
	"fmt"
	"io"
	"log"

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
