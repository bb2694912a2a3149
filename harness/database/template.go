package database

import (
	"context"
	"fmt"
	"os"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// Seed loads the schema and data of sqlPath (scenarios/db.sql) into
// SeedDatabase, vacuums and analyzes it, then freezes it as a template that
// accepts no connections: the state Fresh copies for every target.
//
// The file is sent whole as one simple-protocol query (pgx uses the simple
// protocol for an Exec without arguments), which PostgreSQL runs as one
// implicit transaction: a failed load leaves no half-seeded tables, the
// error comes back as the server's (with its position in the file), and no
// psql is needed.
func (s *Server) Seed(ctx context.Context, sqlPath string) error {
	text, err := os.ReadFile(sqlPath)
	if err != nil {
		return fmt.Errorf("read the seed: %w", err)
	}
	admin, err := s.connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())
	seed := pgx.Identifier{SeedDatabase}.Sanitize()
	// A seed left by an earlier call goes first; a template cannot be dropped.
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, SeedDatabase).Scan(&exists); err != nil {
		return fmt.Errorf("look for %s: %w", SeedDatabase, err)
	}
	if exists {
		if err := execAll(ctx, admin,
			`ALTER DATABASE `+seed+` WITH IS_TEMPLATE false ALLOW_CONNECTIONS true`,
			`DROP DATABASE `+seed+` WITH (FORCE)`); err != nil {
			return err
		}
	}
	if err := execAll(ctx, admin, `CREATE DATABASE `+seed); err != nil {
		return err
	}
	conn, err := s.connect(ctx, SeedDatabase)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, string(text)); err != nil {
		conn.Close(context.Background())
		return fmt.Errorf("load %s: %w", sqlPath, err)
	}
	err = execAll(ctx, conn, `VACUUM ANALYZE`)
	conn.Close(context.Background())
	if err != nil {
		return err
	}
	return execAll(ctx, admin, `ALTER DATABASE `+seed+` WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`)
}

// freshName is what Fresh accepts: a plain lower-case identifier.
var freshName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Fresh gives a target its database: name is dropped (its sessions
// terminated) and copied anew from the seeded template, then vacuumed and
// analyzed, so every target starts from the same state whatever the one
// before it wrote. It returns the DSN the target gets as DATABASE_URL.
func (s *Server) Fresh(ctx context.Context, name string) (dsn string, err error) {
	switch {
	case !freshName.MatchString(name):
		return "", fmt.Errorf("database name %q: want lower-case letters, digits and _", name)
	case name == SeedDatabase || name == "postgres" || name == "template0" || name == "template1":
		return "", fmt.Errorf("database name %q is the server's own", name)
	}
	admin, err := s.connect(ctx, "postgres")
	if err != nil {
		return "", err
	}
	defer admin.Close(context.Background())
	db := pgx.Identifier{name}.Sanitize()
	// WITH (FORCE) terminates the database's sessions first (PostgreSQL 13+).
	// STRATEGY FILE_COPY copies the files after a checkpoint, instead of
	// writing all ~340 MB through the WAL (15's default, WAL_LOG): about as
	// fast here, and it leaves no WAL debt behind that a checkpoint would
	// pay during a later target's steps.
	if err := execAll(ctx, admin,
		`DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`,
		`CREATE DATABASE `+db+` TEMPLATE `+pgx.Identifier{SeedDatabase}.Sanitize()+` STRATEGY FILE_COPY`); err != nil {
		return "", err
	}
	conn, err := s.connect(ctx, name)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	// The CHECKPOINT writes what VACUUM ANALYZE dirtied and restarts
	// checkpoint_timeout's clock, so the target's steps begin with no write
	// pending and a full 30 minutes before the next checkpoint.
	if err := execAll(ctx, conn, `VACUUM ANALYZE`, `CHECKPOINT`); err != nil {
		return "", err
	}
	return s.DSN(name), nil
}

// connect opens one connection to database name.
func (s *Server) connect(ctx context.Context, name string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.DSN(name))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", name, err)
	}
	return conn, nil
}

// execAll runs each statement in turn, each as its own transaction.
func execAll(ctx context.Context, conn *pgx.Conn, stmts ...string) error {
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
