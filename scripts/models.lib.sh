# Shared by the scripts that make models into a folder of their own (scripts/yamnet, scripts/ced).

# Succeeds when $1/<file> and $1/<labels file> are the ones catalog entry $2 names, by sha256:
# the model is installed and up to date, and nothing needs to be made.
installed_as_catalogued() {
  local target="$1" catalog="$2" file labels model_sha labels_sha
  file="$(node -p "require('./$catalog').file")"
  labels="$(node -p "require('./$catalog').labels.file")"
  model_sha="$(node -p "require('./$catalog').sha256")"
  labels_sha="$(node -p "require('./$catalog').labels.sha256")"
  [ -f "$target/$file" ] && [ -f "$target/$labels" ] &&
    echo "$model_sha  $target/$file" | sha256sum -c --status - &&
    echo "$labels_sha  $target/$labels" | sha256sum -c --status -
}
