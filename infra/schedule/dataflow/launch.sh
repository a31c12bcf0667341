#!/usr/bin/env bash
# launch.sh is the flex template's entry point (FLEX_TEMPLATE_GO_BINARY in
# the Dockerfile). The template launcher runs it with the launch request's
# parameters as --name=value, named as in metadata.json (underscores), and
# with Dataflow's pipeline options (--project, --region, --job_name,
# --staging_location, --temp_location, ...), which winnow takes as they
# are. winnow's own flags use dashes, so parameter names are translated.
#
# The run is incremental (only shards this model version has not filtered
# yet) and --async: a flex template's launcher must exit once the job is
# submitted. The job itself writes the manifest when it finishes. The
# workers run this same static binary (--worker_binary), so nothing is
# compiled at launch.
set -euo pipefail

winnow=${WINNOW:-/template/winnow}
args=(filter --incremental --async --runner=dataflow "--worker_binary=${WINNOW_WORKER_BINARY:-$winnow}")
for a in "$@"; do
	case "$a" in
	--input_dir=* | --output_dir=* | --model=* | --threshold=* | --int_threshold=* | --expression=* | \
		--pareto=* | --seed=* | --rejected_dir=* | --text_field=* | --field=* | --positive_label=* | \
		--normalizer=* | --compression=* | --on_bad_row=* | --max_bad_rows=*)
		name=${a%%=*}
		args+=("${name//_/-}=${a#*=}")
		;;
	*)
		args+=("$a")
		;;
	esac
done
exec "$winnow" "${args[@]}"
