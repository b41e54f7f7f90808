// bash completion for flavourctl (issue 17), made from the CLI's own help at package time
// (scripts/package.sh): the commands `flavourctl --help` lists, each command's options as
// `flavourctl help COMMAND` prints them (an option followed by an upper-case word takes a
// value), the bundled machines `help sim` names and the scenarios `sim scenarios` lists. At
// completion time it reads only directories: device addresses from /sys/bus/pci/devices (or
// the tree of a --sysfs DIR already typed), kernel versions from /lib/modules, drivers from
// bus/pci/drivers. It runs no flavourctl: a Tab costs no Node start.
//   node --import tsx scripts/completion.ts FILE
import { writeFileSync } from "node:fs";
import { commandNames, type Help, inProcessHelp } from "./man.ts";

/** An option of a command: its name and whether a value follows it. */
interface Option {
  name: string;
  takesValue: boolean;
}

/**
 * The options a help text offers, each with whether a value follows it (`--sysfs DIR`): those of
 * its usage lines and of the lines that start with an option. An option named in a sentence
 * ("udevadm monitor --property") is not one of ours.
 */
export function helpOptions(help: string): Option[] {
  const options = new Map<string, boolean>();
  const offered = help
    .split("\n")
    .filter((line) => /^(usage: |\s+flavourctl |\s+--|\s{8,}\[)/.test(line))
    .join("\n");
  for (const m of offered.matchAll(/(?<![\w-])(--[a-z][a-z-]*[a-z])(=|\s(?=[A-Z][A-Z_]*\b|vfio\b))?/g))
    options.set(m[1] as string, (options.get(m[1] as string) ?? false) || m[2] !== undefined);
  return [...options].map(([name, takesValue]) => ({ name, takesValue }));
}

/** A bash word list, quoted: the names come from our help text, but a quote in one must not break the file. */
const words = (list: string[]) => `'${list.join(" ").replace(/'/g, "'\\''")}'`;

export async function bashCompletion(help: Help): Promise<string> {
  const commands = await commandNames(help);
  const usage = await help(["--help"]);
  // before the command: the global options only (the command list names commands' own options)
  const global = helpOptions(
    usage.slice(usage.indexOf("\nGlobal options")).replace(/^Global options.*$/m, ""),
  );
  const perCommand: string[] = [];
  const valued = new Set(global.filter((o) => o.takesValue).map((o) => o.name));
  for (const command of commands) {
    const options = helpOptions(await help(["help", command]));
    for (const option of options) if (option.takesValue) valued.add(option.name);
    perCommand.push(`    ${command}) echo ${words(["--help", ...options.map((o) => o.name)])} ;;`);
  }
  const simHelp = await help(["help", "sim"]);
  const machines = /bundled machine \(([^)]*)\)/.exec(simHelp)?.[1]?.split(/,\s*/);
  if (!machines || machines.length === 0) throw new Error("'flavourctl help sim' names no bundled machine");
  const scenarios = (await help(["sim", "scenarios"])).split("\n").filter((line) => /^[\w.-]+$/.test(line));
  const simVerbs = [...simHelp.matchAll(/^\s+flavourctl sim (\w+)|^usage: flavourctl sim (\w+)/gm)].map(
    (m) => (m[1] ?? m[2]) as string,
  );

  return `# bash completion for flavourctl(8): made by scripts/completion.ts from flavourctl's own help.
# Commands, each command's options, device addresses (from /sys/bus/pci/devices, or from the
# tree of a --sysfs DIR on the line), machines for --machine, scenarios for sim run.

_flavourctl_options() {
  case $1 in
${perCommand.join("\n")}
    *) echo ${words(["--help", "--version", ...global.map((o) => o.name).filter((o) => o !== "--help" && o !== "--version")])} ;;
  esac
}

_flavourctl() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=
  ((COMP_CWORD > 0)) && prev=\${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()
  # the command, and the words after it that are not options or their values
  local sysfs=/sys command= word i
  local -a operands=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    case $word in
    --sysfs) sysfs=\${COMP_WORDS[i + 1]:-/sys} ;;
    esac
    case $word in
    ${[...valued].join("|")}) ((i++)) ;;
    -*) ;;
    *) if [[ -z $command ]]; then command=$word; else operands+=("$word"); fi ;;
    esac
  done

  case $prev in
  --machine)
    COMPREPLY=($(compgen -W ${words(machines)} -- "$cur") $(compgen -f -X '!*.json' -- "$cur"))
    [[ snapshot: == "$cur"* ]] && COMPREPLY+=(snapshot:)
    return ;;
  --kernel)
    COMPREPLY=($(compgen -W "$(command ls /lib/modules 2>/dev/null)" -- "$cur"))
    return ;;
  --driver)
    COMPREPLY=($(compgen -W "$(command ls "$sysfs/bus/pci/drivers" 2>/dev/null)" -- "$cur"))
    return ;;
  --match)
    COMPREPLY=($(compgen -W 'address id subsystem class vfs-of' -- "$cur"))
    return ;;
  --flavour)
    COMPREPLY=($(compgen -W vfio -- "$cur"))
    return ;;
  --sysfs | --modules | --config | --output | --run-dir | --source | --from | --to | --alias | --node | --command)
    COMPREPLY=($(compgen -f -- "$cur"))
    return ;;
  ${[...valued].join("|")})
    return ;;
  esac

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_flavourctl_options "$command")" -- "$cur"))
    return
  fi
  local addresses
  case $command,\${#operands[@]} in
  ,0)
    COMPREPLY=($(compgen -W ${words([...commands, "help"])} -- "$cur")) ;;
  help,0)
    COMPREPLY=($(compgen -W ${words(commands)} -- "$cur")) ;;
  show,0 | set,0 | unset,0 | vfs,0)
    addresses=$(command ls "$sysfs/bus/pci/devices" 2>/dev/null)
    COMPREPLY=($(compgen -W "$addresses" -- "$cur")) ;;
  set,1)
    COMPREPLY=($(compgen -W 'vfio default' -- "$cur")) ;;
  sim,0)
    COMPREPLY=($(compgen -W ${words(simVerbs)} -- "$cur")) ;;
  sim,1)
    if [[ \${operands[0]} == run ]]; then
      COMPREPLY=($(compgen -W ${words(scenarios)} -- "$cur") $(compgen -f -X '!*.json' -- "$cur"))
    elif [[ \${operands[0]} != scenarios ]]; then
      COMPREPLY=($(compgen -W ${words(machines)} -- "$cur") $(compgen -f -X '!*.json' -- "$cur"))
    fi ;;
  snapshot,0)
    COMPREPLY=($(compgen -d -- "$cur")) ;;
  esac
}
complete -F _flavourctl flavourctl
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file] = process.argv.slice(2);
  if (!file) {
    console.error("usage: node --import tsx scripts/completion.ts FILE");
    process.exit(64);
  }
  writeFileSync(file, await bashCompletion(inProcessHelp));
}
