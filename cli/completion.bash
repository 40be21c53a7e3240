# bash completion for loopscope (make install puts it in share/bash-completion/completions).
# Commands and each command's options come from loopscope's own help (the one source the man
# pages are made from too), so they never drift; arguments are recordings (*.lsr) and
# directories, files after an option that writes or reads one, PIDs after -p, and any command
# after `run --`.
_loopscope() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local lsc=${COMP_WORDS[0]} cmd=${COMP_WORDS[1]} i
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		mapfile -t COMPREPLY < <(compgen -W "$("$lsc" help 2>/dev/null |
			awk '/^commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }')
			help --version --help" -- "$cur")
		return
	fi
	if [ "$cmd" = help ]; then
		[ "$COMP_CWORD" -eq 2 ] && mapfile -t COMPREPLY < <(compgen -W "$("$lsc" help 2>/dev/null |
			awk '/^commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }')" -- "$cur")
		return
	fi
	# run -- CMD ARGS: the command line of the program to record
	for ((i = 2; i < COMP_CWORD; i++)); do
		if [ "${COMP_WORDS[i]}" = -- ]; then
			if [ $((i + 1)) -eq "$COMP_CWORD" ]; then
				mapfile -t COMPREPLY < <(compgen -c -- "$cur")
			else
				mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			fi
			return
		fi
	done
	case $prev in
	-o | --output | --budget | --baseline | --junit | --folded | --stats)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	--record-dir | --recordings)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return
		;;
	-p | --pid)
		mapfile -t COMPREPLY < <(compgen -W "$(ls /proc | grep -E '^[0-9]+$')" -- "$cur")
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$("$lsc" help "$cmd" 2>/dev/null |
			grep -oE -- '(^|[ [,])--?[a-zA-Z][a-zA-Z-]*' | sed 's/^[ [,]//' | sort -u)" -- "$cur")
		return
	fi
	# a recording, or a directory (one to go into, or the exporter's --record-dir)
	mapfile -t COMPREPLY < <(compgen -d -- "$cur"; compgen -f -X '!*.lsr' -- "$cur")
}
complete -o filenames -F _loopscope loopscope
