CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "catalog_tables" (
	"name" text PRIMARY KEY NOT NULL,
	"owner" text,
	"tier" integer,
	"pipeline" jsonb,
	"dag_id" text,
	"upstream" text[] DEFAULT '{}'::text[] NOT NULL,
	"source" jsonb,
	"sla" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "health_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"table_name" text NOT NULL,
	"old_status" text NOT NULL,
	"new_status" text NOT NULL,
	"rca_id" uuid,
	"signal_id" uuid,
	"reason" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rca_records" (
	"id" uuid PRIMARY KEY NOT NULL,
	"table_name" text NOT NULL,
	"signal_id" uuid NOT NULL,
	"signal_ids" uuid[] NOT NULL,
	"incident_id" text,
	"status" text NOT NULL,
	"category" text NOT NULL,
	"summary" text NOT NULL,
	"confidence" real NOT NULL,
	"assignee_team" text,
	"assignee_role" text NOT NULL,
	"assignee_reason" text NOT NULL,
	"auto_resolution" jsonb,
	"manual_steps" text NOT NULL,
	"evidence" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	"resolved_by_signal" uuid
);
--> statement-breakpoint
CREATE TABLE "signals" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"event" text,
	"source" text NOT NULL,
	"table_name" text NOT NULL,
	"pipeline" jsonb NOT NULL,
	"exception" jsonb,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dedupe_key" text NOT NULL,
	"payload" jsonb NOT NULL,
	"diagnosed_at" timestamp with time zone,
	"claimed_by" text,
	"claimed_until" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "table_health" (
	"table_name" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"since" timestamp with time zone NOT NULL,
	"last_checked_at" timestamp with time zone NOT NULL,
	"rca_id" uuid,
	"last_success_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "teams" (
	"name" text PRIMARY KEY NOT NULL,
	"slack" text,
	"pagerduty_routing_key" text,
	"platform" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash_idx" ON "api_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_name_idx" ON "api_tokens" USING btree ("name");--> statement-breakpoint
CREATE INDEX "catalog_tables_dag_id_idx" ON "catalog_tables" USING btree ("dag_id");--> statement-breakpoint
CREATE INDEX "health_events_table_idx" ON "health_events" USING btree ("table_name","id");--> statement-breakpoint
CREATE UNIQUE INDEX "rca_records_signal_id_idx" ON "rca_records" USING btree ("signal_id");--> statement-breakpoint
CREATE INDEX "rca_records_table_idx" ON "rca_records" USING btree ("table_name","created_at");--> statement-breakpoint
CREATE INDEX "rca_records_created_idx" ON "rca_records" USING btree ("created_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "signals_dedupe_key_idx" ON "signals" USING btree ("dedupe_key");--> statement-breakpoint
CREATE INDEX "signals_undiagnosed_idx" ON "signals" USING btree ("received_at") WHERE diagnosed_at IS NULL;--> statement-breakpoint
CREATE INDEX "signals_table_idx" ON "signals" USING btree ("table_name","occurred_at");--> statement-breakpoint
CREATE INDEX "table_health_status_idx" ON "table_health" USING btree ("status","since");