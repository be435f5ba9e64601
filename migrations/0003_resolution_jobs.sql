CREATE TABLE "rca_actions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"rca_id" uuid NOT NULL,
	"action" text NOT NULL,
	"actor" text NOT NULL,
	"outcome" text NOT NULL,
	"detail" jsonb,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "resolution_attempts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"job_id" uuid NOT NULL,
	"rca_id" uuid NOT NULL,
	"resolver" text NOT NULL,
	"attempt" integer NOT NULL,
	"outcome" text NOT NULL,
	"detail" jsonb,
	"error" text,
	"actor" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "resolution_jobs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"rca_id" uuid NOT NULL,
	"table_name" text NOT NULL,
	"resolver" text NOT NULL,
	"state" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"run_at" timestamp with time zone NOT NULL,
	"deadline" timestamp with time zone,
	"last_error" text,
	"params" jsonb NOT NULL,
	"locked_by" text,
	"locked_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "rca_actions_rca_idx" ON "rca_actions" USING btree ("rca_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "resolution_attempts_job_attempt_idx" ON "resolution_attempts" USING btree ("job_id","attempt");--> statement-breakpoint
CREATE INDEX "resolution_attempts_rca_idx" ON "resolution_attempts" USING btree ("rca_id");--> statement-breakpoint
CREATE UNIQUE INDEX "resolution_jobs_rca_idx" ON "resolution_jobs" USING btree ("rca_id");--> statement-breakpoint
CREATE INDEX "resolution_jobs_due_idx" ON "resolution_jobs" USING btree ("run_at") WHERE state = 'scheduled';--> statement-breakpoint
CREATE INDEX "resolution_jobs_table_idx" ON "resolution_jobs" USING btree ("table_name","state");