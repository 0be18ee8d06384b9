// Package redisstore keeps the SDK's shared state in Redis, so that every replica of a service
// — every process and every host — acts as one client towards the platform.
//
// # One api_key for all replicas
//
// A platform api_key lives two hours, and a new login on an account cancels the key every other
// caller holds. Replicas that each logged in would keep canceling one another's keys. A Store
// passed to digelao.WithTokenStore prevents that: the session lives under one Redis key, and a
// replica that needs a new one first takes a Redis lock (SET NX PX with a random owner token), so
// exactly one replica logs in while the others wait for the session it stores. A session the
// platform refused is removed only if it is still the one stored (compare-and-delete in a Lua
// script), so a newer key stored meanwhile by another replica survives.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	store, err := redisstore.New(rdb)
//	c, err := digelao.New(baseURL, digelao.WithPassword(user, pass), digelao.WithTokenStore(store))
//
// The stored session is JSON and holds the api_key: protect the Redis instance (network access,
// AUTH/ACL, TLS) as you would the account's password. The key expires in Redis when the api_key
// does. The Store logs only what it repairs (WithLogger), and never a session.
//
// # When Redis is down
//
// Every method returns an error wrapped as "redisstore: <operation>: <cause>", for example
// "redisstore: get: dial tcp 10.0.0.5:6379: connect: connection refused". The SDK then fails the
// call with that error rather than logging in on its own: a login without the shared lock would
// cancel the key of every other replica. A client that already holds a valid session keeps using
// it from memory until it expires or is refused.
//
// # De-duplication
//
// Store also implements digelao.DedupStore: the platform may deliver a push more than once, to any
// replica, and Claim lets exactly one of them handle it. Its keys live under prefix + "dedup:". A
// key holding something else than its marks, or a claim without expiry, is taken over by the next
// Claim and logged, rather than refusing its record until someone deletes it.
//
// # Keys
//
// Every Redis key starts with the prefix (WithPrefix, default "digelao:"): sessions under prefix +
// the key the SDK passes (derived from the base URL and the account, no secret in it), their refresh
// locks under that + ":lock", de-duplication marks under prefix + "dedup:" + key. Each command touches one key, so
// a Redis Cluster client works too.
package redisstore
