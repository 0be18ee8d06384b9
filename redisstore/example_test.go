package redisstore_test

import (
	"context"
	"log"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/digelao-go/digelao"
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
		digelao.WithPassword(os.Getenv("DIGELAO_USER"), os.Getenv("DIGELAO_PASSWORD")),
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
