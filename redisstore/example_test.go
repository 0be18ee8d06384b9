package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/redisstore"
)

// Every replica builds its client the same way; they then share one api_key through Redis.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.WithPrefix("callcenter:"))
	if err != nil {
		log.Fatal(err)
	}

	c, err := digelao.New("https://ai123.example.com",
		digelao.WithPassword(os.Getenv("DIGELAO_USERNAME"), os.Getenv("DIGELAO_PASSWORD")),
		digelao.WithTokenStore(store))
	if err != nil {
		log.Fatal(err)
	}
	// The first call of any replica logs in; the others wait for its key and reuse it. With Redis
	// unreachable the call fails ("digelao: token store get: redisstore: get: dial tcp …").
	if err := c.Do(context.Background(), "POST", "/api/index", digelao.NewParams().Set("pageIndex", 0), nil); err != nil {
		log.Print(err)
	}
}

// Replicas share one api_key through Redis: here two clients, as two replicas would make them,
// against the fake platform. The first call of each needs a key; the platform sees one login.
func ExampleNew_replicas() {
	ctx := context.Background()
	platform := digelaotest.NewServer() // against the real platform: its address and credentials
	defer platform.Close()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	store, err := redisstore.New(rdb)
	if err != nil {
		log.Fatal(err)
	}

	for replica := 1; replica <= 2; replica++ {
		c, err := digelao.New(platform.URL, digelao.WithPassword(digelaotest.Username, digelaotest.Password),
			digelao.WithTokenStore(store))
		if err != nil {
			log.Fatal(err)
		}
		templates, err := c.Templates.Names(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("replica %d: %d templates\n", replica, len(templates))
		c.CloseIdleConnections()
	}
	fmt.Println("logins:", len(platform.Logins()))
	// Output:
	// replica 1: 2 templates
	// replica 2: 2 templates
	// logins: 1
}

// Every replica runs the same code: pushes are taken by all of them, sweeps run on one at a time,
// and each call record reaches the database once.
func Example_recordSync() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer rdb.Close()
	store, err := redisstore.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	c, err := digelao.New("https://ai123.example.com",
		digelao.WithPassword(os.Getenv("DIGELAO_USERNAME"), os.Getenv("DIGELAO_PASSWORD")),
		digelao.WithTokenStore(store))
	if err != nil {
		log.Fatal(err)
	}
	rs, err := digelao.NewRecordSync(c, upsertCallRecord, digelao.WithSyncStore(store))
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { log.Print(rs.Run(ctx)) }() // sweeps while this replica holds the lease, until ctx ends
	srv := &http.Server{Addr: ":8090", ReadHeaderTimeout: 10 * time.Second,
		Handler: &digelao.PushHandler{Token: digelao.NewSecret(os.Getenv("DIGELAO_PUSH_TOKEN")), OnCallRecord: rs.Push}}
	log.Print(srv.ListenAndServe())
}

// upsertCallRecord stands for the application's own storage: an idempotent upsert by r.SN.
func upsertCallRecord(_ context.Context, r *digelao.CallRecord) error {
	log.Printf("call record %s: %s", r.SN, r.Phone)
	return nil
}
