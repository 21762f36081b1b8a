# Sourced by fuzz_smoke.sh and fuzz_campaign.sh: the libFuzzer targets (tests/fuzz/), their committed seed folders
# and options.
fuzz_targets=(fuzz_image fuzz_model_file fuzz_keras_import fuzz_keras_archive)
fuzz_seeds() {
  case "$1" in
    fuzz_image) echo tests/bad_inputs ;;
    fuzz_model_file) echo models/demo tests/bad_models ;;
    fuzz_keras_import) echo tests/fuzz/corpus/keras_import ;;
    fuzz_keras_archive) echo tests/fuzz/corpus/keras_archive models/demo tests/bad_models ;;
  esac
}
fuzz_options() {
  case "$1" in
    fuzz_keras_import | fuzz_keras_archive) echo -dict=tests/fuzz/keras.dict ;;
  esac
}
