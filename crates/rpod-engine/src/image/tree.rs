//! `image tree`, drawn as podman draws it: the image's layers with their sizes, each layer
//! that is the top layer of images named after them; with `--whatrequires`, the layers of
//! the images built on this one instead. Layers are told apart by their chain (a layer and
//! every layer under it), as podman's storage tells them apart.

use std::collections::BTreeMap;

use crate::human::size_precise;

/// An image as the tree needs it: its layers (diff IDs, bottom first), their sizes, and its
/// names (`localhost/base:latest`).
#[derive(Debug, Clone)]
pub struct TreeImage {
    pub id: String,
    pub layers: Vec<String>,
    pub layer_sizes: Vec<u64>,
    pub names: Vec<String>,
    pub size: u64,
}

/// A line of the tree and the lines under it.
#[derive(Debug, Default)]
struct Node {
    text: String,
    children: Vec<Node>,
}

/// The tree of `image`; `all` is every image of the store (`image` among them), in the
/// order they were added.
pub fn render(image: &TreeImage, all: &[TreeImage], what_requires: bool) -> String {
    let header = format!(
        "Image ID: {}\nTags:     [{}]\nSize:     {}\n{}",
        &image.id[..12.min(image.id.len())],
        image.names.join(" "),
        size_precise(image.size),
        if image.layers.is_empty() {
            "No Image Layers"
        } else {
            "Image Layers"
        }
    );
    let mut root = Node {
        text: header,
        children: Vec::new(),
    };
    if what_requires {
        if !image.layers.is_empty() {
            descend(image.layers.len(), image, all, &mut root);
        }
    } else {
        for depth in 1..=image.layers.len() {
            root.children.push(Node {
                text: label(&image.layers[..depth], image.layer_sizes[depth - 1], all),
                children: Vec::new(),
            });
        }
    }
    let mut text = root.text.clone();
    text.push('\n');
    draw(&root.children, "", &mut text);
    text
}

/// podman's walk down from a layer: the layer is added under `parent`; its children go
/// under it when there are several, beside it when there is one.
fn descend(depth: usize, through: &TreeImage, all: &[TreeImage], parent: &mut Node) {
    let chain = &through.layers[..depth];
    parent.children.push(Node {
        text: label(chain, through.layer_sizes[depth - 1], all),
        children: Vec::new(),
    });
    // The next layers of the images above this chain, each with an image that has it.
    let mut next: BTreeMap<usize, &TreeImage> = BTreeMap::new();
    let mut seen: Vec<&str> = Vec::new();
    for (order, other) in all.iter().enumerate() {
        if other.layers.len() > depth && other.layers[..depth] == *chain {
            let layer = other.layers[depth].as_str();
            if !seen.contains(&layer) {
                seen.push(layer);
                next.insert(order, other);
            }
        }
    }
    let nested = next.len() > 1;
    for other in next.into_values() {
        let target = if nested {
            parent.children.last_mut().expect("just added")
        } else {
            &mut *parent
        };
        descend(depth + 1, other, all, target);
    }
}

/// `ID: 0123456789ab Size: 2.147MB Top Layer of: [localhost/base:latest]`.
fn label(chain: &[String], size: u64, all: &[TreeImage]) -> String {
    let top = chain.last().map(String::as_str).unwrap_or_default();
    let mut text = format!(
        "ID: {} Size: {:>7}",
        &top[..12.min(top.len())],
        size_precise(size)
    );
    let names: Vec<&str> = all
        .iter()
        .filter(|i| i.layers == chain)
        .flat_map(|i| i.names.iter().map(String::as_str))
        .collect();
    if !names.is_empty() {
        text.push_str(&format!(" Top Layer of: [{}]", names.join(" ")));
    }
    text
}

fn draw(children: &[Node], indent: &str, out: &mut String) {
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        out.push_str(indent);
        out.push_str(if last { "└── " } else { "├── " });
        out.push_str(&child.text);
        out.push('\n');
        let deeper = format!("{indent}{}", if last { "    " } else { "│   " });
        draw(&child.children, &deeper, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, layers: &[&str], names: &[&str]) -> TreeImage {
        TreeImage {
            id: id.repeat(12),
            layers: layers.iter().map(|l| l.repeat(12)).collect(),
            layer_sizes: layers.iter().map(|_| 4608).collect(),
            names: names.iter().map(|n| n.to_string()).collect(),
            size: 2_147_000,
        }
    }

    #[test]
    fn an_images_layers_bottom_first_with_the_images_they_top() {
        let base = image("b", &["1"], &["localhost/base:latest"]);
        let child = image("c", &["1", "2"], &["localhost/child:latest"]);
        let all = [base, child.clone()];
        assert_eq!(
            render(&child, &all, false),
            "Image ID: cccccccccccc\nTags:     [localhost/child:latest]\nSize:     2.147MB\n\
             Image Layers\n\
             ├── ID: 111111111111 Size: 4.608kB Top Layer of: [localhost/base:latest]\n\
             └── ID: 222222222222 Size: 4.608kB Top Layer of: [localhost/child:latest]\n"
        );
    }

    #[test]
    fn what_requires_follows_the_images_above_nesting_where_they_part() {
        let base = image("b", &["1"], &["localhost/base:latest"]);
        let mid = image("m", &["1", "2"], &["localhost/mid:latest"]);
        let left = image("l", &["1", "2", "3"], &["localhost/left:latest"]);
        let right = image("r", &["1", "2", "4"], &["localhost/right:latest"]);
        let other = image("o", &["9"], &["localhost/other:latest"]);
        let all = [base.clone(), mid, left, right, other];
        let text = render(&base, &all, true);
        let lines: Vec<&str> = text.lines().skip(4).collect();
        assert_eq!(
            lines,
            [
                "├── ID: 111111111111 Size: 4.608kB Top Layer of: [localhost/base:latest]",
                "└── ID: 222222222222 Size: 4.608kB Top Layer of: [localhost/mid:latest]",
                "    ├── ID: 333333333333 Size: 4.608kB Top Layer of: [localhost/left:latest]",
                "    └── ID: 444444444444 Size: 4.608kB Top Layer of: [localhost/right:latest]",
            ]
        );
        // Nothing above: the image's own top layer only.
        let text = render(&all[4], &all, true);
        assert!(text.ends_with("Image Layers\n└── ID: 999999999999 Size: 4.608kB Top Layer of: [localhost/other:latest]\n"), "{text}");
    }
}
