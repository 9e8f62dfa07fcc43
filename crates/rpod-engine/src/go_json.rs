//! JSON documents in the key order Go's encoder gives them.
//!
//! rpod's JSON values keep their keys in the order they were written (serde_json's
//! `preserve_order`), so a struct prints in its fields' order, as Go prints one. Go writes
//! a map's keys sorted; `oci-spec` keeps labels and annotations in `HashMap`s, whose order
//! changes from one process to the next, so documents made from its types get those maps
//! sorted here (an image config's digest would otherwise change with it).

use serde_json::Value;

/// The fields of OCI and Docker documents that are maps in `oci-spec`'s types.
const MAP_FIELDS: [&str; 4] = ["Labels", "labels", "annotations", "Annotations"];

/// Sort the keys of every map field (`Labels`, `annotations`, ...) anywhere in `value`.
fn sort_map_fields(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                if MAP_FIELDS.contains(&key.as_str()) {
                    if let Value::Object(map) = child {
                        map.sort_keys();
                    }
                }
                sort_map_fields(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_map_fields),
        _ => {}
    }
}

/// `document` as JSON with its map fields sorted.
pub fn to_value_sorted(document: &impl serde::Serialize) -> serde_json::Result<Value> {
    let mut value = serde_json::to_value(document)?;
    sort_map_fields(&mut value);
    Ok(value)
}

/// `document`'s JSON bytes with its map fields sorted.
pub fn to_vec_sorted(document: &impl serde::Serialize) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&to_value_sorted(document)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_fields_are_sorted_and_structs_keep_their_order() {
        let mut labels = std::collections::HashMap::new();
        for key in ["zeta", "alpha", "mid", "beta", "omega", "gamma"] {
            labels.insert(key.to_string(), "v".to_string());
        }
        let config = oci_spec::image::ConfigBuilder::default()
            .user("u")
            .labels(labels.clone())
            .cmd(vec!["sh".to_string()])
            .build()
            .unwrap();
        let value = to_value_sorted(
            &serde_json::json!({"Z": 1, "config": config, "A": [{"annotations": labels}]}),
        )
        .unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let sorted = vec!["alpha", "beta", "gamma", "mid", "omega", "zeta"];
        assert_eq!(keys(&value["config"]["Labels"]), sorted);
        assert_eq!(keys(&value["A"][0]["annotations"]), sorted);
        // Struct fields and literal objects stay in the order they were written.
        assert_eq!(keys(&value), vec!["Z", "config", "A"]);
        assert_eq!(keys(&value["config"]), vec!["User", "Cmd", "Labels"]);
    }
}
