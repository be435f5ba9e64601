import type { Category } from './taxonomy.ts';

/**
 * Manual how-to-fix steps per category (DESIGN 6): markdown with `{placeholders}` filled by
 * {@link renderManualSteps} from the signal, the catalog and the verdict's details. They are
 * what the assignee reads when auto-resolution does not apply or gave up, so each step names the
 * command or setting to change and who to talk to.
 *
 * code_error, source_auth_failure and source_schema_change never suggest clearing the task
 * before the cause is fixed: a re-run cannot fix them (DESIGN 5).
 */

/**
 * Shown under every heading: what was reported — the task's exception (fenced so that its text
 * cannot inject markup), or for SLA misses and DQ failures the event in one line (`report`).
 */
const EXCEPTION = '{reported}';

const CLEAR = `clear the failed task of run \`{run_id}\` — in the Airflow UI ({airflow}: DAG \`{dag_id}\` → the run → \`{task_id}\` → Clear, "Only failed"), or \`airflow tasks clear {dag_id} -t '^{task_id}$' -s {logical_date} -e {logical_date} --only-failed --yes\``;

const LOGS = `the task log: Airflow UI ({airflow}) → DAG \`{dag_id}\` → run \`{run_id}\` → \`{task_id}\` → Logs (on disk: \`$AIRFLOW_HOME/logs/dag_id={dag_id}/run_id={run_id}/task_id={task_id}/\`)`;

export const MANUAL_STEPS: Record<Category, string> = {
  source_replica_lag: `### The source read replica is behind its primary ({source})

${EXCEPTION}

1. Measure the lag on the replica \`{source}\`: PostgreSQL \`SELECT now() - pg_last_xact_replay_timestamp();\`, MySQL \`SHOW REPLICA STATUS\\G\` (\`Seconds_Behind_Source\`).
2. If it keeps growing, contact {source_owner}: a long transaction or bulk load on the primary, a saturated replica or a broken replication link is on their side.
3. If extracts get cancelled by "conflict with recovery", ask {source_owner} to set \`hot_standby_feedback = on\` or raise \`max_standby_streaming_delay\` on the replica, or read in smaller chunks.
4. Once the lag is below the table's \`max_replica_lag_s\`, ${CLEAR}.
`,

  source_unavailable: `### Source unreachable: {source}

${EXCEPTION}

1. From an Airflow worker, check the source answers: \`pg_isready -h {host} -p {port}\` (PostgreSQL), \`mysqladmin -h {host} -P {port} ping\` (MySQL) or \`nc -vz {host} {port}\`.
2. If the host name does not resolve, check the host in the Airflow connection the task \`{task_id}\` uses (\`airflow connections get <conn_id>\`) and the DNS record.
3. Contact {source_owner} (source \`{source}\`): maintenance, failover, full connection slots (\`max_connections\`) or a firewall change?
4. Once the source answers again, ${CLEAR}.
`,

  source_auth_failure: `### The source rejected the pipeline's credentials ({source})

${EXCEPTION}

1. Find the Airflow connection the task \`{task_id}\` uses and test it by hand with the same user (\`psql\`, \`mysql\`, \`sqlplus\`), or \`airflow connections test <conn_id>\`.
2. Password rotated or token expired: update the credentials in the Airflow connection or your secrets backend; the pipeline owner {owner} holds them.
3. Permission denied on an object: ask {source_owner} to grant the pipeline user read access, e.g. \`GRANT SELECT ON <schema>.<table> TO <pipeline_user>;\` (MySQL: \`GRANT SELECT ON <db>.<table> TO '<pipeline_user>'@'%';\`).
4. Do not clear the task before the credentials work: the run fails the same way and repeated failures can lock the account.
5. Once a manual connection succeeds, ${CLEAR}.
`,

  source_schema_change: `### The source schema changed: \`{column}\` / {source_table} ({source})

${EXCEPTION}

1. Confirm on the source: \`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '<table>';\` (Spark: \`DESCRIBE TABLE <table>\`).
2. Ask {source_owner} whether the change is intended (renamed, dropped or retyped column, moved table) and since when.
3. Update the pipeline's query or column mapping for {table} (DAG \`{dag_id}\`, task \`{task_id}\`) and, if needed, the lake table schema; deploy the change.
4. Only after the deploy, ${CLEAR}.
5. Backfill the runs that failed while the schemas differed.
`,

  source_data_issue: `### The source data is missing, duplicated or malformed ({source})

${EXCEPTION}

1. Locate the offending rows, file or partition for run \`{run_id}\` from ${LOGS}.
2. Send {source_owner} the run, the partition and the offending value or file; the data is theirs to fix.
3. If bad rows must not block the load, make the pipeline quarantine them (Spark: \`mode=PERMISSIVE\` with \`columnNameOfCorruptRecord\`), agreed with {owner}.
4. When the source is corrected, ${CLEAR}.
`,

  upstream_unhealthy: `### The upstream {upstream} is failing

${EXCEPTION}

1. Check the upstream's health: \`GET /v1/tables/{upstream}/health\` on Medic, or its DAG in the Airflow UI ({airflow}).
2. The upstream's owner, {assignee_team}, has the RCA for its own failure; follow it there rather than here.
3. Once {upstream} is healthy again, ${CLEAR}.
4. If {table} no longer needs {upstream}, fix the catalog's \`upstream\` list and the DAG's sensor.
`,

  upstream_late: `### The upstream {upstream} has not landed yet

${EXCEPTION}

1. Check when {upstream} last succeeded: \`GET /v1/tables/{upstream}/health\` on Medic, or its DAG in the Airflow UI ({airflow}).
2. Ask {assignee_team} (its owner) when it will land; its own SLA may already be missed.
3. Once {upstream} has landed, ${CLEAR}.
4. If the upstream is routinely later than the sensor allows, raise the sensor's \`timeout\` (and use \`mode="reschedule"\`) in DAG \`{dag_id}\`, or move the schedule.
`,

  infra_transient: `### The worker or an internal service failed transiently

${EXCEPTION}

1. A retry usually succeeds: if Airflow's own retries are exhausted, clear the task (step 4).
2. If it recurs, read ${LOGS} and the worker's state: \`kubectl get pods -n airflow\`, \`kubectl describe pod <pod>\` (evictions, node pressure), \`kubectl get events -n airflow\`.
3. Zombies or SIGTERMs: check the scheduler logs and \`[scheduler] task_instance_heartbeat_timeout\` (Airflow 2: \`scheduler_zombie_task_threshold\`) against how long the task blocks.
4. Contact {assignee_team} if nodes or workers keep disappearing; once fixed, ${CLEAR}.
`,

  resource_exhausted: `### The task ran out of {resource}

${EXCEPTION}

1. Memory: raise the limit — Spark \`spark.executor.memory\` / \`spark.executor.memoryOverhead\` (or \`spark.driver.memory\`), KubernetesPodOperator \`container_resources\`, CeleryKubernetes \`executor_config\` — or process less at once (more partitions, chunked extract).
2. Disk: move scratch space to a larger volume (\`spark.local.dir\`, the pod's \`ephemeral-storage\`) and clean up temporary files in DAG \`{dag_id}\`.
3. Quota: ask {assignee_team} to raise it, or lower the task's requests.
4. Deploy the change, then ${CLEAR}; a plain re-run with the same resources fails the same way.
`,

  sink_write_failure: `### The lake storage rejected the write ({bucket})

${EXCEPTION}

1. Throttled (503 SlowDown, "Rate exceeded"): a later retry usually succeeds. If it recurs, write fewer, larger files (\`coalesce\`/\`repartition\` before the write), spread keys over more prefixes, and let S3A back off (\`fs.s3a.retry.throttle.limit\`, \`fs.s3a.retry.throttle.interval\`).
2. Access denied: check that the workers' IAM role allows \`s3:PutObject\` on \`{bucket}\`, the bucket policy and the KMS key (\`kms:GenerateDataKey\`); test with \`aws s3api put-object --bucket {bucket} --key _medic_write_test --body /dev/null\`.
3. Glue / Lake Formation: check the role's \`glue:BatchCreatePartition\`/\`glue:UpdateTable\` rights and the Lake Formation grants on the database.
4. Contact {assignee_team}; once writes succeed, ${CLEAR}.
`,

  scheduler_backlog: `### The run waited in the queue far longer than usual

${EXCEPTION}

1. Look for a saturated pool: \`airflow pools list\` (open vs queued slots) and the DAG's \`pool\`/\`max_active_tasks\`.
2. Check the global limits: \`[core] parallelism\`, \`[celery] worker_concurrency\` or the Kubernetes executor's pending pods (\`kubectl get pods -n airflow --field-selector=status.phase=Pending\`).
3. Check the scheduler is alive: \`airflow jobs check --job-type SchedulerJob\`.
4. Contact {assignee_team} to add capacity or rebalance pools; the run itself needs nothing.
`,

  runtime_regression: `### The run took far longer than its history

${EXCEPTION}

1. Compare with previous runs: Airflow UI ({airflow}) → DAG \`{dag_id}\` → Task Duration for \`{task_id}\`.
2. Check the input volume of run \`{run_id}\` against previous runs; a volume spike needs more parallelism, not a fix.
3. Check the extract query on the source \`{source}\` (\`EXPLAIN ANALYZE\`; a missing index or a changed plan) with {source_owner}.
4. {owner} decides: tune the job, or raise \`execution_timeout\` and the SLA if the new duration is expected.
`,

  incomplete_load: `### The load succeeded but the lake has fewer rows than the source

${EXCEPTION}

1. Compare the counts for partition \`{partition}\` (reported: source {source_count}, lake {lake_count}): \`SELECT count(*)\` on the source \`{source}\` and on {table}.
2. Re-run the partition: ${CLEAR}.
3. Still short after a re-run: check the extract's filter window (late-arriving rows), CDC lag or a dropped replication slot on \`{source}\`.
4. Contact {assignee_team}, and {source_owner} if the source side is suspect.
`,

  code_error: `### A bug in the pipeline's code or SQL

${EXCEPTION}

1. Read the traceback in ${LOGS}.
2. Reproduce locally: \`airflow tasks test {dag_id} {task_id} {logical_date}\`.
3. Fix the code or SQL of DAG \`{dag_id}\` and deploy it; {owner} owns the pipeline.
4. Only after the deploy, ${CLEAR}.
`,

  unknown: `### Medic could not determine the cause

${EXCEPTION}

1. Read ${LOGS}.
2. Read the RCA's evidence trail in Medic (\`GET /v1/rca/<id>\`, admin) to see what each analyser checked.
3. Contact {assignee_team} with the run \`{run_id}\` of {table}.
4. If this is a recurring failure, add a rule for it to Medic's \`exception-classifier\`.
`,
};

/** Readable stand-ins for variables that are missing; command arguments get shell-style tokens. */
const FALLBACKS: Record<string, string> = {
  table: 'the table',
  dag_id: 'DAG_ID',
  task_id: 'TASK_ID',
  run_id: 'RUN_ID',
  logical_date: 'LOGICAL_DATE',
  airflow: 'Airflow',
  source: 'the source database',
  source_owner: 'the source owner',
  owner: 'the pipeline owner',
  assignee_team: 'the assignee team',
  column: '(unknown column)',
  source_table: 'the source table',
  upstream: 'the upstream table',
  exception_type: '(unknown)',
  host: 'SOURCE_HOST',
  port: 'PORT',
  bucket: 'the lake bucket',
  resource: 'memory, disk or quota',
  partition: 'the partition',
  source_count: '?',
  lake_count: '?',
};

const NO_EXCEPTION = '_No exception was reported._';
const MAX_MESSAGE = 4000;
const MAX_INLINE = 200;

/**
 * An exception message as a fenced code block: markdown and HTML inside a fence are shown, not
 * interpreted. Runs of three or more backticks are removed so the text cannot close the fence.
 */
function fence(message: string): string {
  let text = message.replace(/`{3,}/g, '').replace(/\r\n?/g, '\n').trimEnd();
  if (text.length > MAX_MESSAGE) text = `${text.slice(0, MAX_MESSAGE)}\n… (truncated)`;
  return `\`\`\`text\n${text}\n\`\`\``;
}

/**
 * A value placed in running text or a code span: one line, no backticks (they would end the code
 * span) and no angle brackets (raw HTML outside code spans).
 */
function inline(value: string): string {
  let text = value
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/`+/g, "'")
    .replace(/</g, '‹')
    .replace(/>/g, '›')
    .trim();
  if (text.length > MAX_INLINE) text = `${text.slice(0, MAX_INLINE)}…`;
  return text;
}

function reported(values: Record<string, string | number | null | undefined>): string {
  if (present(values.exception_type) || present(values.exception_message)) {
    const type = present(values.exception_type) ? inline(String(values.exception_type)) : '(unknown)';
    return `Exception reported by the task (\`${type}\`):\n\n${present(values.exception_message) ? fence(String(values.exception_message)) : NO_EXCEPTION}`;
  }
  return present(values.report) ? `Reported: ${inline(String(values.report))}` : NO_EXCEPTION;
}

function present(value: string | number | null | undefined): value is string | number {
  return value !== null && value !== undefined && String(value).trim() !== '';
}

/**
 * Fills a category's manual steps. Missing, null or empty variables render as a readable
 * fallback, never as a raw `{name}`; the exception message is fenced (see {@link fence}).
 * `logical_date` is derived from a scheduled/manual run id when not given.
 */
export function renderManualSteps(category: Category, vars: Record<string, string | number | null | undefined>): string {
  const template = MANUAL_STEPS[category] ?? MANUAL_STEPS.unknown;
  const values: Record<string, string | number | null | undefined> = { ...vars };
  if (!present(values['logical_date']) && typeof values['run_id'] === 'string') {
    const fromRunId = /__(\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)$/.exec(values['run_id'])?.[1];
    if (fromRunId !== undefined) values['logical_date'] = fromRunId;
  }
  return template.replace(/\{(\w+)\}/g, (_whole, key: string) => {
    const value = values[key];
    if (key === 'reported') return reported(values);
    if (key === 'exception_message') return present(value) ? fence(String(value)) : NO_EXCEPTION;
    if (present(value)) return inline(String(value));
    return FALLBACKS[key] ?? '(unknown)';
  });
}
