-- Checks a restored database against what its backup recorded, inside the restoring transaction (psql;
-- restore-checked.sh appends it after the dump and the recorded row counts, which it COPYs into
-- pg_temp.backup_expected). Any difference raises, so the whole restore rolls back.
-- psql variable: expected_migration (the stamp's migration head, or "none").
SELECT set_config('plane_k3s.expected_migration', :'expected_migration', true) \g /dev/null
DO $check$
DECLARE
  expected record;
  actual bigint;
  head text;
  extra text;
BEGIN
  FOR expected IN SELECT * FROM pg_temp.backup_expected ORDER BY table_name LOOP
    IF to_regclass(format('%I.%I', expected.schema_name, expected.table_name)) IS NULL THEN
      RAISE EXCEPTION 'table %.% of the backup is missing', expected.schema_name, expected.table_name;
    END IF;
    EXECUTE format('SELECT count(*) FROM %I.%I', expected.schema_name, expected.table_name) INTO actual;
    IF actual <> expected.row_count THEN
      RAISE EXCEPTION 'table %.% has % rows, the backup recorded %', expected.schema_name, expected.table_name, actual, expected.row_count;
    END IF;
  END LOOP;
  SELECT string_agg(tablename, ', ') INTO extra FROM pg_catalog.pg_tables t WHERE schemaname = 'public'
    AND NOT EXISTS (SELECT 1 FROM pg_temp.backup_expected e WHERE e.table_name = t.tablename);
  IF extra IS NOT NULL THEN
    RAISE EXCEPTION 'tables the backup did not record: %', extra;
  END IF;
  IF to_regclass('public.django_migrations') IS NULL THEN
    head := 'none';
  ELSE
    EXECUTE 'SELECT app || ''.'' || name FROM public.django_migrations ORDER BY app = ''db'' DESC, id DESC LIMIT 1' INTO head;
  END IF;
  IF head IS DISTINCT FROM current_setting('plane_k3s.expected_migration') THEN
    RAISE EXCEPTION 'migration head is %, the backup recorded %', head, current_setting('plane_k3s.expected_migration');
  END IF;
END
$check$;
