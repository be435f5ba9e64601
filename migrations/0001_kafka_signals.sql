CREATE TABLE "dead_letters" (
	"id" uuid PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"offset" text NOT NULL,
	"key" "bytea",
	"value" "bytea",
	"value_bytes" integer NOT NULL,
	"headers" jsonb,
	"reason" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"replayed_at" timestamp with time zone,
	"replayed_signal_id" uuid
);
--> statement-breakpoint
ALTER TABLE "catalog_tables" ADD COLUMN "created_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "dead_letters_position_idx" ON "dead_letters" USING btree ("topic","partition","offset");--> statement-breakpoint
CREATE INDEX "dead_letters_received_idx" ON "dead_letters" USING btree ("received_at","id");