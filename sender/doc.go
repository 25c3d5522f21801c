// Package sender delivers Caliper events to a Caliper endpoint, the Timeback
// API or timeback serve, through a durable outbox, so that no accepted event
// is lost when the process exits, crashes or the endpoint is down.
//
// Send validates the events and returns once they are committed to the
// outbox, a SQLite file. A background sender posts them in envelopes,
// retries temporary failures with backoff, and deletes them only after a 2xx
// reply. Events that the endpoint rejects move to a dead-letter table.
// Event ids never change between attempts, so the endpoint removes the
// duplicates that a retry may create.
//
//	client, err := sender.New(sender.Config{
//		Environment: "http://127.0.0.1:8080",
//		OutboxPath:  "outbox.db",
//	})
//	if err != nil {
//		return err
//	}
//	defer client.Close(context.Background())
//	if err := client.Send(ctx, event); err != nil {
//		return err
//	}
//	return client.Flush(ctx)
//
// OAuth2 needs Config.TokenURL, the token endpoint of the environment; the
// package has no default for it.
package sender
