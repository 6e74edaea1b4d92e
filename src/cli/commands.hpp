#pragma once
// One function per subcommand; main.cpp only dispatches. argv[0] is the subcommand name.
namespace comfy::cli {
int cmd_run(int argc, char** argv);              // src/cli/cmd_run.cpp
int cmd_validate(int argc, char** argv);         // src/cli/cmd_validate.cpp
int cmd_convert(int argc, char** argv);          // src/cli/cmd_convert.cpp
int cmd_nodes(int argc, char** argv);            // src/cli/cmd_nodes.cpp
int cmd_preview(int argc, char** argv);          // src/cli/cmd_preview.cpp
int cmd_make_checkpoint(int argc, char** argv);  // src/cli/cmd_make_checkpoint.cpp
int cmd_serve(int argc, char** argv);            // src/cli/cmd_serve.cpp
}  // namespace comfy::cli
