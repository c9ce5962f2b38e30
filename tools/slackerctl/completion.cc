// slackerctl completion bash: a bash completion script for slackerctl, and
// the hidden command that script runs, slackerctl __complete WHAT, which
// prints the cluster's namespaces or methods one per line.
//
// The script completes commands and flags (read from the flag registry, so
// that a new flag completes without a change here), the values of the flags
// that take a fixed set, and namespaces and methods by calling the slackerctl
// being completed with the --zk, --cluster and --root already typed.

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "framework/version.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/descriptors.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {
namespace {

// The commands a user types; __complete is left out on purpose.
constexpr const char* kCommands[] = {
    "ls",        "describe", "call",        "watch",    "export-protoset",
    "offline",   "online",   "server-data", "shutdown", "completion",
    "dashboard",
};

// Flags with a fixed set of values, and those values.
struct FlagValues {
  const char* flag;
  const char* values;
};
constexpr FlagValues kFlagValues[] = {
    {"--grouping",
     "random round_robin first sticky leader least_in_flight weighted hash "
     "all"},
    {"--results", "single vector map"},
    {"--errors", "all any"},
};

// The script, with @COMMANDS@, @FLAGS@, @VALUE_FLAGS@, @FLAG_VALUES@ and
// @VERSION@ to fill in. COMP_WORDS splits words at '=' and ':', so the
// script reads the line itself (COMP_LINE) and trims from each candidate what
// lies before the shell's current word.
constexpr char kBashScript[] =
    R"script(# bash completion for slackerctl (@VERSION@).
# Load it with: source <(slackerctl completion bash)
# or install it: slackerctl completion bash > /etc/bash_completion.d/slackerctl
_slackerctl() {
  local line="${COMP_LINE:0:COMP_POINT}"
  local -a words
  read -r -a words <<< "$line"
  [[ "$line" =~ [[:space:]]$ || ${#words[@]} -eq 0 ]] && words+=("")
  local cur="${words[${#words[@]}-1]}"
  local shell_word="${COMP_WORDS[COMP_CWORD]}"
  local commands="@COMMANDS@"
  local flags="@FLAGS@"
  local value_flags=" @VALUE_FLAGS@ "
  local -a connection=()
  local command="" i w
  for ((i = 1; i < ${#words[@]} - 1; i++)); do
    w="${words[i]}"
    case "$w" in
      --zk=*|--cluster=*|--root=*|--digest=*|--exhibitor=*|-zk=*|-cluster=*|-root=*|-digest=*|-exhibitor=*)
        connection+=("$w") ;;
      --zk|--cluster|--root|--digest|--exhibitor|-zk|-cluster|-root|-digest|-exhibitor)
        connection+=("$w=${words[i+1]}"); ((i++)) ;;
      -*=*) ;;
      -*)
        [[ "$value_flags" == *" ${w#-} "* || "$value_flags" == *" ${w#--} "* ]] && ((i++)) ;;
      *)
        [[ -z "$command" ]] && command="$w" ;;
    esac
  done
  local candidates=""
  if [[ "$cur" == -*=* ]]; then
    local flag="${cur%%=*}"
    case "${flag#-}" in
@FLAG_VALUES@
    esac
    local value
    for value in $values; do candidates+="$flag=$value "; done
  elif [[ "$cur" == -* ]]; then
    candidates="$flags"
  elif [[ -z "$command" ]]; then
    candidates="$commands"
  else
    local prog="${words[0]/#\~/$HOME}"
    case "$command" in
      describe|export-protoset)
        candidates="$("$prog" "${connection[@]}" --connect_timeout=2s __complete namespaces 2>/dev/null)"
        [[ "$command" == describe ]] && candidates+=" $("$prog" "${connection[@]}" --connect_timeout=2s __complete methods 2>/dev/null)" ;;
      call)
        candidates="$("$prog" "${connection[@]}" --connect_timeout=2s __complete methods 2>/dev/null)" ;;
      completion)
        candidates="bash" ;;
    esac
  fi
  local -a matches
  mapfile -t matches < <(compgen -W "$candidates" -- "$cur")
  local trim=$(( ${#cur} - ${#shell_word} ))
  [[ "$shell_word" == "=" || "$shell_word" == ":" ]] && trim=$(( ${#cur} - 1 ))
  COMPREPLY=()
  local m
  for m in "${matches[@]}"; do
    [[ "$m" == *= ]] && compopt -o nospace 2>/dev/null
    if ((trim > 0)); then
      COMPREPLY+=("${m:trim}")
    else
      COMPREPLY+=("$m")
    fi
  done
}
complete -F _slackerctl slackerctl
)script";

// slackerctl's own flags (as main.cc's parser takes them: every flag linked
// in but Abseil's own), "--name=" for those that take a value, and the names
// that take a value alone, with main.cc's short -d and -H.
void OwnFlags(std::vector<std::string>* flags,
              std::vector<std::string>* value_flags) {
  value_flags->push_back("d");
  value_flags->push_back("H");
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::StrContains(flag->Filename(), "absl/flags")) continue;
    if (flag->IsOfType<bool>()) {
      flags->push_back(absl::StrCat("--", name));
    } else {
      flags->push_back(absl::StrCat("--", name, "="));
      value_flags->push_back(std::string(name));
    }
  }
  flags->push_back("--help");
  flags->push_back("--version");
  std::sort(flags->begin(), flags->end());
  std::sort(value_flags->begin(), value_flags->end());
}

}  // namespace

int Completion(const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0] != "bash") {
    return Fail(kUsage,
                "completion takes one shell, and bash is the one it knows: "
                "source <(slackerctl completion bash)");
  }
  std::vector<std::string> flags, value_flags;
  OwnFlags(&flags, &value_flags);
  std::string cases;
  for (const FlagValues& f : kFlagValues) {
    absl::StrAppend(&cases, "      ", absl::string_view(f.flag).substr(1), "|",
                    absl::string_view(f.flag).substr(2), ") local values=\"",
                    f.values, "\" ;;\n");
  }
  absl::StrAppend(&cases, "      *) local values=\"\" ;;");
  std::cout << absl::StrReplaceAll(
                   kBashScript,
                   {{"@VERSION@", kVersion},
                    {"@COMMANDS@", absl::StrJoin(kCommands, " ")},
                    {"@FLAGS@", absl::StrJoin(flags, " ")},
                    {"@VALUE_FLAGS@", absl::StrJoin(value_flags, " ")},
                    {"@FLAG_VALUES@", cases}})
            << std::flush;
  return kOk;
}

int Complete(Cluster& c, const std::string& what) {
  absl::StatusOr<std::vector<std::string>> namespaces = ListNamespaces(c);
  if (!namespaces.ok())
    return Fail(kUnreachable, namespaces.status().ToString());
  for (const std::string& ns : *namespaces) {
    absl::StatusOr<std::vector<std::string>> methods = ListMethods(c, ns);
    if (!methods.ok()) continue;  // Nothing to describe or call there.
    if (what == "namespaces") {
      std::cout << ns << "\n";
      continue;
    }
    for (const std::string& method : *methods) {
      std::cout << ns << "/" << method << "\n";
    }
  }
  std::cout << std::flush;
  return kOk;
}

}  // namespace slacker::slackerctl
