#!/usr/bin/env bash
# Rebuilds the real vehicle sets from a checkout of github.com/jekhor/aerial-cars-dataset at
# commit d2ed927fe2b06e4794e90d6320152b940808ddd9 (files of 4 MiB and more may be absent).
#   scripts/import_aerial_cars.sh /path/to/aerial-cars-dataset  [dev_out] [train_out]
# dev   (held out, committed as data/real_dev): the author's DJI-00760, DJI_0013 and DJI_0xxx photos
# train (out/real_train, not committed):        DJI_0005, DJI_0762 photos and the KIT AIS Munich mosaics
# Not used: harlem-* (frames of a YouTube video, licence unclear), yakubava.jpg (empty file).
# GSD: the set has no flight altitudes, so each group's GSD is its median labelled car length
# in pixels against 4.5 m (a typical car); in operation the pose gives the GSD. The dev set is
# stored shrunk to 8 cm/px (the model's training GSD) to stay small in git.
set -euo pipefail
SRC=${1:?path to aerial-cars-dataset}; DEV=${2:-data/real_dev}; TRAIN=${3:-out/real_train}
PATROL=${PATROL:-.venv/bin/patrol}
COMMIT=d2ed927fe2b06e4794e90d6320152b940808ddd9
REPO=jekhor/aerial-cars-dataset
MAP=(--map car=illegal_parking --map truck=illegal_parking --map bus=illegal_parking --map minibus=illegal_parking --map cyclist=-)
OWN="Yauhen Kharuzhy and the Minsk OpenStreetMap community, CC-BY-SA (repository README)"
KIT="KIT AIS Data Set, Institute of Photogrammetry and Remote Sensing, Karlsruhe Institute of Technology, CC-BY-3.0"
BASIS="median labelled car length in px against 4.5 m"
imp() { "$PATROL" dataset import yolo "$SRC" --names "$SRC/aerial.names" "${MAP[@]}" --repo "$REPO" --commit "$COMMIT" "$@"; }
imp --out "$DEV" --split dev --store-gsd 0.08 --source own-dji-00760 --include 'DJI-00760-*' --licence CC-BY-SA --attribution "$OWN" \
    --gsd 0.062 --gsd-basis "$BASIS" --scene "Minsk streets and yards, oblique-to-nadir video frames"
imp --out "$DEV" --split dev --store-gsd 0.08 --source own-dji-0013 --include 'DJI_0013-*' --licence CC-BY-SA --attribution "$OWN" \
    --gsd 0.055 --gsd-basis "$BASIS" --scene "Minsk streets, video frames"
imp --out "$DEV" --split dev --store-gsd 0.08 --source own-dji-stills --include 'DJI_0[0-9][0-9][0-9].JPG' --licence CC-BY-SA --attribution "$OWN" \
    --gsd 0.057 --gsd-basis "$BASIS" --scene "Minsk car parks, streets, roofs; 12 MP stills"
imp --out "$TRAIN" --split train --source own-dji-0005 --include 'DJI_0005-*' --licence CC-BY-SA --attribution "$OWN" \
    --gsd 0.055 --gsd-basis "$BASIS" --scene "Minsk streets, video frames"
imp --out "$TRAIN" --split train --source own-dji-0762 --include 'DJI_0762-*' --licence CC-BY-SA --attribution "$OWN" \
    --gsd 0.074 --gsd-basis "$BASIS" --scene "Minsk streets, video frames"
imp --out "$TRAIN" --split train --source kit-ais-munich --include 'MOS*.png' --include 'MunichStreet02-MOS*.png' --licence CC-BY-3.0 \
    --attribution "$KIT" --gsd 0.13 --gsd-basis "$BASIS" --scene "Munich streets, aerial mosaics"
