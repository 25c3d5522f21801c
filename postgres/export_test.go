package postgres

// Migrations are the schema migrations, for the upgrade test.
var Migrations = migrations
